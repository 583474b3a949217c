-- currency_totals: the period's money per currency, from the balance transactions created in it
-- and the payouts made in it. Amounts in minor units; refunds, disputes, transfers negative.
WITH moves AS (
    SELECT currency,
           sum(amount) FILTER (WHERE type IN ('charge', 'payment')) AS gross,
           count(*) FILTER (WHERE type IN ('charge', 'payment')) AS charges,
           sum(fee) AS stripe_fees,
           sum(amount) FILTER (WHERE type IN ('refund', 'payment_refund')) AS refunds,
           sum(amount) FILTER (WHERE reporting_category IN ('dispute', 'dispute_reversal'))
               AS disputes,
           sum(amount) FILTER (
               WHERE reporting_category IN ('platform_earning', 'platform_earning_refund')
           ) AS platform_fees,
           sum(amount) FILTER (WHERE reporting_category IN ('transfer', 'transfer_reversal'))
               AS transfers,
           sum(net) FILTER (WHERE type <> 'payout') AS net
    FROM balance_transactions
    WHERE created >= $period_from AND created < $period_to
    GROUP BY currency
),
paid_out AS (
    SELECT currency, sum(amount) AS payouts, count(*) AS payout_count
    FROM payouts
    WHERE created >= $period_from AND created < $period_to AND status NOT IN ('failed', 'canceled')
    GROUP BY currency
)
SELECT coalesce(m.currency, p.currency) AS currency,
       coalesce(m.charges, 0) AS charges,
       coalesce(m.gross, 0) AS gross,
       coalesce(m.stripe_fees, 0) AS stripe_fees,
       coalesce(m.refunds, 0) AS refunds,
       coalesce(m.disputes, 0) AS disputes,
       coalesce(m.platform_fees, 0) AS platform_fees,
       coalesce(m.transfers, 0) AS transfers,
       coalesce(m.net, 0) AS net,
       coalesce(p.payouts, 0) AS payouts,
       coalesce(p.payout_count, 0) AS payout_count
FROM moves m
FULL OUTER JOIN paid_out p ON p.currency = m.currency
ORDER BY currency
