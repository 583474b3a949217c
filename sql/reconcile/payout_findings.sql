-- payout_findings: payouts made in the period whose balance transactions do not add up to the
-- payout. Relations: payouts, payout_items, balance_transactions.
WITH lines AS (
    SELECT i.payout, count(*) AS items, count(b.id) AS found, coalesce(sum(b.net), 0) AS explained
    FROM payout_items i
    LEFT JOIN balance_transactions b ON b.id = i.balance_transaction
    GROUP BY i.payout
)
SELECT 'payout_unexplained' AS kind, NULL AS order_id, p.id AS stripe_id, p.currency,
       coalesce(l.explained, 0) AS local_amount, p.amount AS stripe_amount,
       CAST(coalesce(l.items, 0) AS VARCHAR) || ' lines, ' ||
       CAST(coalesce(l.items, 0) - coalesce(l.found, 0) AS VARCHAR) || ' not in the ledger'
           AS detail,
       p.created AS occurred_at, p.created + to_seconds($sync_sla_s) AS due_at
FROM payouts p
LEFT JOIN lines l ON l.payout = p.id
WHERE p.created >= $period_from AND p.created < $period_to
  AND p.status NOT IN ('failed', 'canceled')
  AND (l.payout IS NULL OR l.explained <> p.amount OR l.found <> l.items)
