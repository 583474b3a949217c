-- charge_findings: orders paid here <-> succeeded charges in Stripe, for payments in the period.
-- One row per discrepancy: kind, ids on both sides, amounts, detail, when it happened and when
-- it stops being "expected" (due_at). Relations: orders (local snapshot), charges, refunds.
WITH paid_charges AS (
    SELECT * FROM charges WHERE status = 'succeeded' AND order_id IS NOT NULL
),
refunded AS (
    SELECT charge, sum(amount) AS amount
    FROM refunds WHERE status IN ('succeeded', 'pending') GROUP BY charge
),
in_scope AS (
    SELECT id AS order_id FROM orders
    WHERE paid_at >= $period_from AND paid_at < $period_to
    UNION
    SELECT order_id FROM paid_charges
    WHERE created >= $period_from AND created < $period_to
),
candidates AS (
    -- every succeeded charge of an order in scope, ranked: the order's own charge first
    SELECT s.order_id, c.*, row_number() OVER (
        PARTITION BY s.order_id
        ORDER BY (c.id = o.charge) DESC, c.created, c.id
    ) AS rank
    FROM in_scope s
    JOIN paid_charges c ON c.order_id = s.order_id
    LEFT JOIN orders o ON o.id = s.order_id
),
pairs AS (
    SELECT s.order_id,
           o.id AS local_id, o.paid_at, o.deadline, o.currency AS local_currency,
           o.amount_total, o.application_fee_amount AS local_fee, o.seller_account,
           c.id AS charge_id, c.created AS charged_at, c.currency, c.amount,
           c.application_fee_amount AS stripe_fee, c.destination,
           coalesce(r.amount, 0) AS stripe_refunded
    FROM in_scope s
    LEFT JOIN orders o ON o.id = s.order_id
    LEFT JOIN candidates c ON c.order_id = s.order_id AND c.rank = 1
    LEFT JOIN refunded r ON r.charge = c.id
)
SELECT 'missing_in_stripe' AS kind, order_id, NULL AS stripe_id, local_currency AS currency,
       amount_total AS local_amount, NULL::BIGINT AS stripe_amount,
       'no charge' AS detail, paid_at AS occurred_at,
       paid_at + to_seconds($sync_sla_s) AS due_at
FROM pairs WHERE paid_at IS NOT NULL AND charge_id IS NULL
UNION ALL
SELECT 'missing_locally', order_id, charge_id, currency, amount_total, amount,
       CASE WHEN local_id IS NULL THEN 'no order' ELSE 'order not paid' END,
       charged_at, charged_at + to_seconds($webhook_sla_s)
FROM pairs WHERE charge_id IS NOT NULL AND paid_at IS NULL
UNION ALL
SELECT 'currency_mismatch', order_id, charge_id, currency, amount_total, amount,
       local_currency, charged_at, charged_at
FROM pairs WHERE paid_at IS NOT NULL AND charge_id IS NOT NULL AND currency <> local_currency
UNION ALL
SELECT CASE WHEN amount > amount_total THEN 'amount_over' ELSE 'amount_under' END,
       order_id, charge_id, currency, amount_total, amount, 'charge', charged_at, charged_at
FROM pairs
WHERE paid_at IS NOT NULL AND charge_id IS NOT NULL AND currency = local_currency
  AND amount <> amount_total
UNION ALL
SELECT 'fee_mismatch', order_id, charge_id, currency, local_fee, coalesce(stripe_fee, 0),
       CASE WHEN coalesce(destination, '') <> seller_account
            THEN 'destination ' || coalesce(destination, 'none') || ' for seller ' || seller_account
            ELSE 'application fee' END,
       charged_at, charged_at
FROM pairs
WHERE paid_at IS NOT NULL AND charge_id IS NOT NULL
  AND (coalesce(stripe_fee, 0) <> local_fee OR coalesce(destination, '') <> seller_account)
UNION ALL
SELECT 'late_payment_not_refunded', order_id, charge_id, currency, amount_total, amount,
       strftime(deadline, '%Y-%m-%d %H:%M:%S UTC'), paid_at,
       paid_at + to_seconds($refund_sla_s)
FROM pairs
WHERE paid_at > deadline AND charge_id IS NOT NULL AND stripe_refunded < amount
UNION ALL
SELECT 'duplicate_charge', c.order_id, c.id, c.currency, p.amount_total, c.amount,
       p.charge_id, c.created, c.created + to_seconds($refund_sla_s)
FROM candidates c
JOIN pairs p ON p.order_id = c.order_id
LEFT JOIN refunded r ON r.charge = c.id
WHERE c.rank > 1 AND coalesce(r.amount, 0) < c.amount
