-- charge_findings: orders paid here <-> succeeded charges in Stripe, for payments in the period.
-- One row per discrepancy: kind, ids on both sides, amounts, detail, when it happened and when
-- it stops being "expected" (due_at). Relations: orders (local snapshot), charges, refunds.
--
-- An order is in scope when it was paid here in the period or has a paid charge created in it.
-- Its charges are ranked, the order's own charge first, then by creation; rank 1 is compared
-- with the order, later ones are duplicates. Almost every order has at most one charge, so only
-- orders with several are ranked (a window over a few rows), and the one pass over orders and
-- charges keeps only the rows some finding needs before the kinds are split out.
WITH paid_charges AS (
    SELECT id, order_id, created, currency, amount, application_fee_amount, destination
    FROM charges WHERE status = 'succeeded' AND order_id IS NOT NULL
),
refunded AS (
    SELECT charge, sum(amount) AS amount
    FROM refunds WHERE status IN ('succeeded', 'pending') GROUP BY charge
),
shared AS (
    -- orders charged more than once, by hash of the id (cheaper to group than the strings); a
    -- collision only adds a single-charge order to ranked, where it ranks 1 as it would anyway
    SELECT hash(order_id) AS h FROM paid_charges GROUP BY h HAVING count(*) > 1
),
ranked AS (
    -- the charges of orders charged more than once
    SELECT c.id, row_number() OVER w AS rank, first_value(c.id) OVER w AS first_charge,
           bool_or(c.created >= $period_from AND c.created < $period_to)
               OVER (PARTITION BY c.order_id) AS charged_in_period
    FROM paid_charges c
    SEMI JOIN shared s ON s.h = hash(c.order_id)
    LEFT JOIN orders o ON o.id = c.order_id
    WINDOW w AS (PARTITION BY c.order_id ORDER BY (c.id = o.charge) DESC, c.created, c.id)
),
matched AS (
    SELECT coalesce(o.id, c.order_id) AS order_id,
           o.id AS local_id, o.state AS local_state, o.paid_at, o.deadline,
           o.currency AS local_currency,
           o.amount_total, o.application_fee_amount AS local_fee, o.seller_account,
           c.id AS charge_id, c.created AS charged_at, c.currency, c.amount,
           c.application_fee_amount AS stripe_fee, c.destination,
           coalesce(k.rank, 1) AS rank, k.first_charge,
           coalesce(r.amount, 0) AS stripe_refunded,
           coalesce(k.charged_in_period, c.created >= $period_from AND c.created < $period_to)
               AS charged_in_period
    FROM orders o
    FULL JOIN paid_charges c ON c.order_id = o.id
    LEFT JOIN ranked k ON k.id = c.id
    LEFT JOIN refunded r ON r.charge = c.id
),
pairs AS (
    -- in scope, and some finding below holds (the same conditions, or-ed)
    SELECT * FROM matched
    WHERE ((paid_at >= $period_from AND paid_at < $period_to) OR charged_in_period)
      AND (
          (rank = 1 AND (
              (paid_at IS NOT NULL AND charge_id IS NULL)
              OR (charge_id IS NOT NULL AND paid_at IS NULL)
              OR (paid_at IS NOT NULL AND charge_id IS NOT NULL AND (
                  currency <> local_currency OR amount <> amount_total
                  OR coalesce(stripe_fee, 0) <> local_fee
                  OR coalesce(destination, '') <> seller_account))
              OR (paid_at > deadline AND charge_id IS NOT NULL AND stripe_refunded < amount)))
          OR (rank > 1 AND stripe_refunded < amount))
)
SELECT 'missing_in_stripe' AS kind, order_id, NULL AS stripe_id, local_currency AS currency,
       amount_total AS local_amount, NULL::BIGINT AS stripe_amount,
       'no charge' AS detail, paid_at AS occurred_at,
       paid_at + to_seconds($sync_sla_s) AS due_at
FROM pairs WHERE rank = 1 AND paid_at IS NOT NULL AND charge_id IS NULL
UNION ALL
SELECT 'missing_locally', order_id, charge_id, currency, amount_total, amount,
       CASE WHEN local_id IS NULL THEN 'no order'
            WHEN local_state = 'payment_mismatch' THEN 'order held: payment does not match it'
            ELSE 'order not paid' END,
       charged_at,
       CASE WHEN local_state = 'payment_mismatch' THEN charged_at
            ELSE charged_at + to_seconds($webhook_sla_s) END
FROM pairs WHERE rank = 1 AND charge_id IS NOT NULL AND paid_at IS NULL
UNION ALL
SELECT 'currency_mismatch', order_id, charge_id, currency, amount_total, amount,
       local_currency, charged_at, charged_at
FROM pairs
WHERE rank = 1 AND paid_at IS NOT NULL AND charge_id IS NOT NULL AND currency <> local_currency
UNION ALL
SELECT CASE WHEN amount > amount_total THEN 'amount_over' ELSE 'amount_under' END,
       order_id, charge_id, currency, amount_total, amount, 'charge', charged_at, charged_at
FROM pairs
WHERE rank = 1 AND paid_at IS NOT NULL AND charge_id IS NOT NULL AND currency = local_currency
  AND amount <> amount_total
UNION ALL
SELECT 'fee_mismatch', order_id, charge_id, currency, local_fee, coalesce(stripe_fee, 0),
       CASE WHEN coalesce(destination, '') <> seller_account
            THEN 'destination ' || coalesce(destination, 'none') || ' for seller ' || seller_account
            ELSE 'application fee' END,
       charged_at, charged_at
FROM pairs
WHERE rank = 1 AND paid_at IS NOT NULL AND charge_id IS NOT NULL
  AND (coalesce(stripe_fee, 0) <> local_fee OR coalesce(destination, '') <> seller_account)
UNION ALL
SELECT 'late_payment_not_refunded', order_id, charge_id, currency, amount_total, amount,
       strftime(deadline, '%Y-%m-%d %H:%M:%S UTC'), paid_at,
       paid_at + to_seconds($refund_sla_s)
FROM pairs
WHERE rank = 1 AND paid_at > deadline AND charge_id IS NOT NULL AND stripe_refunded < amount
UNION ALL
SELECT 'duplicate_charge', order_id, charge_id, currency, amount_total, amount,
       first_charge, charged_at, charged_at + to_seconds($refund_sla_s)
FROM pairs
WHERE rank > 1 AND stripe_refunded < amount
