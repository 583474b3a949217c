-- daily_volume: gross charged per UTC day and currency in the period.
SELECT CAST(created AT TIME ZONE 'UTC' AS DATE) AS day, currency,
       sum(amount) AS gross, count(*) AS charges
FROM balance_transactions
WHERE type IN ('charge', 'payment') AND created >= $period_from AND created < $period_to
GROUP BY ALL
ORDER BY day, currency
