-- payout_lines: every payout made in the period explained by its balance transactions, by
-- reporting category; difference = payout - sum of the lines (zero when fully explained).
WITH lines AS (
    SELECT i.payout, b.reporting_category, b.net
    FROM payout_items i
    JOIN balance_transactions b ON b.id = i.balance_transaction
)
SELECT p.id AS payout, p.currency, p.created, p.arrival_date, p.status, p.amount,
       count(l.net) AS lines,
       coalesce(sum(l.net) FILTER (WHERE l.reporting_category = 'charge'), 0) AS charges,
       coalesce(sum(l.net) FILTER (WHERE l.reporting_category = 'refund'), 0) AS refunds,
       coalesce(sum(l.net) FILTER (WHERE l.reporting_category IN ('dispute', 'dispute_reversal')), 0)
           AS disputes,
       coalesce(sum(l.net) FILTER (
           WHERE l.reporting_category IN ('platform_earning', 'platform_earning_refund')
       ), 0) AS platform_fees,
       coalesce(sum(l.net) FILTER (WHERE l.reporting_category IN ('transfer', 'transfer_reversal')), 0)
           AS transfers,
       coalesce(sum(l.net) FILTER (WHERE l.reporting_category NOT IN (
           'charge', 'refund', 'transfer_reversal', 'dispute', 'dispute_reversal',
           'platform_earning', 'platform_earning_refund', 'transfer'
       )), 0) AS other,
       p.amount - coalesce(sum(l.net), 0) AS difference
FROM payouts p
LEFT JOIN lines l ON l.payout = p.id
WHERE p.created >= $period_from AND p.created < $period_to AND p.status NOT IN ('failed', 'canceled')
GROUP BY p.id, p.currency, p.created, p.arrival_date, p.status, p.amount
ORDER BY p.currency, p.created, p.id
