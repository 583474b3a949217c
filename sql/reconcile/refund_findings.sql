-- refund_findings: refunds and disputes here <-> there, for each paid order whose payment or
-- whose refund or dispute falls in the period. Relations: orders, refunds, disputes.
WITH stripe_refunds AS (
    SELECT charge, sum(amount) AS amount, max(created) AS last_at, arg_max(id, created) AS last_id,
           bool_or(created >= $period_from AND created < $period_to) AS in_period
    FROM refunds WHERE status IN ('succeeded', 'pending') GROUP BY charge
),
stripe_disputes AS (
    SELECT charge, arg_max(id, created) AS id, arg_max(status, created) AS status,
           max(created) AS opened_at,
           bool_or(created >= $period_from AND created < $period_to) AS in_period
    FROM disputes GROUP BY charge
),
compared AS (
    SELECT o.id AS order_id, o.charge, o.currency, o.paid_at,
           o.amount_refunded AS local_refunded, coalesce(r.amount, 0) AS stripe_refunded,
           r.last_at AS refunded_at, r.last_id AS refund_id,
           o.dispute AS local_dispute, coalesce(o.dispute_status, 'none') AS local_dispute_status,
           d.id AS dispute_id, d.opened_at,
           CASE WHEN d.status IS NULL THEN 'none'
                WHEN d.status IN ('won', 'warning_closed') THEN 'won'
                WHEN d.status IN ('lost', 'charge_refunded') THEN 'lost'
                ELSE 'open' END AS stripe_dispute_status
    FROM orders o
    LEFT JOIN stripe_refunds r ON r.charge = o.charge
    LEFT JOIN stripe_disputes d ON d.charge = o.charge
    WHERE o.paid_at IS NOT NULL AND o.charge IS NOT NULL
      AND ((o.paid_at >= $period_from AND o.paid_at < $period_to)
           OR coalesce(r.in_period, FALSE) OR coalesce(d.in_period, FALSE))
      -- only the orders some finding below needs (the same conditions, or-ed)
      AND (coalesce(r.amount, 0) > 0 OR o.amount_refunded > 0 OR d.id IS NOT NULL)
)
SELECT 'status_mismatch' AS kind, order_id, coalesce(dispute_id, refund_id, charge) AS stripe_id,
       currency, local_refunded AS local_amount, stripe_refunded AS stripe_amount,
       CASE WHEN dispute_id IS NOT NULL AND local_dispute_status <> stripe_dispute_status
            THEN 'dispute ' || stripe_dispute_status || ' there, ' || local_dispute_status || ' here'
            ELSE 'refunded' END AS detail,
       coalesce(opened_at, refunded_at) AS occurred_at,
       coalesce(opened_at, refunded_at) + to_seconds($webhook_sla_s) AS due_at
FROM compared
WHERE (local_refunded = 0 AND stripe_refunded > 0)
   OR (dispute_id IS NOT NULL AND local_dispute_status <> stripe_dispute_status)
UNION ALL
SELECT CASE WHEN stripe_refunded > local_refunded THEN 'amount_over' ELSE 'amount_under' END,
       order_id, coalesce(refund_id, charge), currency, local_refunded, stripe_refunded,
       'refund', refunded_at, refunded_at + to_seconds($webhook_sla_s)
FROM compared
WHERE local_refunded > 0 AND stripe_refunded > 0 AND local_refunded <> stripe_refunded
UNION ALL
SELECT 'missing_in_stripe', order_id, charge, currency, local_refunded, 0,
       'refund', paid_at, paid_at + to_seconds($sync_sla_s)
FROM compared
WHERE local_refunded > 0 AND stripe_refunded = 0
