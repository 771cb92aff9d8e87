-- clickpath ClickHouse schema, version 9: the commission ledger (LedgerEntry, topic
-- commissions.ledger; docs/commissions.md), one row per entry as the sink receives it.
--
-- An entry re-sent after a crash or a replay has the same `entry_id` and may carry a later
-- `recorded_at` (the batch's `now`). An entry counts from the first time it was recorded: the
-- merge keeps the earliest copy (`keep` is larger the earlier the copy), and every read groups
-- by the key and takes the earliest copy (`ledger_entries`), so a re-sent entry counts once and
-- `--as-of` reads the same before and after any merge, without FINAL (DESIGN.md §9).
CREATE TABLE IF NOT EXISTS {db}.commission_ledger
(
    entry_id          String,
    affiliate_id      LowCardinality(String),
    period            LowCardinality(String),
    kind              LowCardinality(String),
    component         LowCardinality(String),
    amount            Decimal(38, 6),
    currency          LowCardinality(String),
    original_amount   Decimal(38, 6),
    original_currency LowCardinality(String),
    fx_rate           Decimal(38, 6),
    plan_id           LowCardinality(String),
    plan_version      Int64,
    player_token      Nullable(String),
    caused_by         Array(String),
    reason            Nullable(String),
    occurred_at       DateTime64(3, 'UTC'),
    recorded_at       DateTime64(3, 'UTC'),
    registered_at     Nullable(DateTime64(3, 'UTC')),
    written_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    keep              UInt64 MATERIALIZED toUInt64(99999999999999) - toUInt64(toUnixTimestamp64Milli(recorded_at))
)
ENGINE = ReplacingMergeTree(keep)
PARTITION BY period
ORDER BY (affiliate_id, period, entry_id);

-- The analyst view (`clickpath sql`, docs/ledger.md): one row per entry, its
-- earliest copy. The ledger is per affiliate across brands: `brand_id` is '' so that a
-- brand-scoped key reads no entries (admin keys read them all).
CREATE VIEW IF NOT EXISTS {db}.ledger_entries AS
SELECT affiliate_id,
       period,
       entry_id,
       e.1 AS kind,
       e.2 AS component,
       e.3 AS amount,
       e.4 AS currency,
       e.5 AS original_amount,
       e.6 AS original_currency,
       e.7 AS fx_rate,
       e.8 AS plan_id,
       e.9 AS plan_version,
       e.10 AS player_token,
       e.11 AS caused_by,
       e.12 AS reason,
       e.13 AS occurred_at,
       first_recorded_at AS recorded_at,
       e.14 AS registered_at,
       '' AS brand_id
FROM
(
    SELECT affiliate_id, period, entry_id,
           argMin(tuple(kind, component, amount, currency, original_amount, original_currency,
                        fx_rate, plan_id, plan_version, player_token, caused_by, reason,
                        occurred_at, registered_at), recorded_at) AS e,
           min(recorded_at) AS first_recorded_at
    FROM {db}.commission_ledger
    GROUP BY affiliate_id, period, entry_id
);
