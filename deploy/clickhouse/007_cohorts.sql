-- clickpath ClickHouse schema, version 7: registration cohorts (LTV at 30, 90 and 365 days,
-- retention by 30-day period), kept by materialized views on fact_rows (docs/cohorts.md).
--
-- Every fact (PlayerDayFact v3) carries the player's registration time, `registered_at`; the
-- sink writes it on the new row and repeats the replaced row's on the cancel row, so that
-- every sign-weighted sum below is exact without FINAL, whatever the order of arrival, and a
-- re-tag (or a registration that arrives after the deposits) moves the player's value from
-- one cohort key to another exactly. Facts with no registration time yet stay out of the
-- cohorts: the stream sends all of the player's facts again once the registration is known.
--
-- Cohorts are kept by UTC 15-minute registration slot: every time zone in use is a whole
-- number of 15 minutes from UTC, so a slot never straddles a local midnight and the queries
-- put a slot in its week or month in any brand's own zone (clickpath/infra/cohorts.py). The
-- age of a fact is in whole UTC days from the registration's UTC day to the fact's day (day
-- 0 = the registration's day); the windows are ages [0, 30), [0, 90) and [0, 365).

ALTER TABLE {db}.fact_rows
    ADD COLUMN IF NOT EXISTS registered_at Nullable(DateTime64(3, 'UTC')) AFTER bonus_cost;

-- Per brand, affiliate, campaign, registration slot, age and currency ('' holds the players:
-- the registration fact). NGR = stakes - wins - bonus_cost - chargeback_sum (as funnel_daily).
CREATE TABLE IF NOT EXISTS {db}.cohort_agg
(
    brand_id       LowCardinality(String),
    reg_slot       DateTime('UTC'),
    affiliate_id   LowCardinality(String),
    campaign_id    LowCardinality(String),
    age_days       Int32,
    currency       LowCardinality(String),
    players        Int64,
    ftds           Int64,
    deposits       Int64,
    deposit_sum    Decimal(38, 4),
    stakes         Decimal(38, 4),
    wins           Decimal(38, 4),
    bonus_cost     Decimal(38, 4),
    chargeback_sum Decimal(38, 4)
)
ENGINE = SummingMergeTree
ORDER BY (brand_id, reg_slot, affiliate_id, campaign_id, age_days, currency)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cohort_facts_mv TO {db}.cohort_agg AS
SELECT brand_id,
       toStartOfFifteenMinutes(toDateTime(assumeNotNull(registered_at), 'UTC')) AS reg_slot,
       affiliate_id, campaign_id,
       toInt32(dateDiff('day', toDate(assumeNotNull(registered_at), 'UTC'), day)) AS age_days,
       currency,
       sum(sign * toInt64(registrations)) AS players,
       sum(sign * toInt64(ftds)) AS ftds,
       sum(sign * toInt64(deposits)) AS deposits,
       toDecimal128(sum(sign * deposit_sum), 4) AS deposit_sum,
       toDecimal128(sum(sign * stakes), 4) AS stakes,
       toDecimal128(sum(sign * wins), 4) AS wins,
       toDecimal128(sum(sign * bonus_cost), 4) AS bonus_cost,
       toDecimal128(sum(sign * chargeback_sum), 4) AS chargeback_sum
FROM {db}.fact_rows
WHERE registered_at IS NOT NULL
GROUP BY brand_id, reg_slot, affiliate_id, campaign_id, age_days, currency;

-- Who was active in which period: a person counts as active in period N when a fact of an age
-- in [30N, 30N + 30) days holds real-money activity (an approved deposit or a real-money
-- stake). `active` is the sign-weighted number of such facts, so a person is active when it
-- is above zero, exactly under cancels; rows summing to zero are removed at merges.
CREATE TABLE IF NOT EXISTS {db}.cohort_activity
(
    brand_id     LowCardinality(String),
    reg_slot     DateTime('UTC'),
    affiliate_id LowCardinality(String),
    campaign_id  LowCardinality(String),
    period       UInt16,
    person_id    String,
    active       Int64
)
ENGINE = SummingMergeTree
ORDER BY (brand_id, reg_slot, affiliate_id, campaign_id, period, person_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cohort_activity_mv TO {db}.cohort_activity AS
SELECT brand_id,
       toStartOfFifteenMinutes(toDateTime(assumeNotNull(registered_at), 'UTC')) AS reg_slot,
       affiliate_id, campaign_id,
       toUInt16(intDiv(dateDiff('day', toDate(assumeNotNull(registered_at), 'UTC'), day), 30))
           AS period,
       person_id,
       sum(toInt64(sign)) AS active
FROM {db}.fact_rows
WHERE registered_at IS NOT NULL AND day >= toDate(assumeNotNull(registered_at), 'UTC')
  AND (deposits > 0 OR stakes > 0)
GROUP BY brand_id, reg_slot, affiliate_id, campaign_id, period, person_id;

-- Upgrade: facts written before this version have no registration time. Each person's is
-- taken from `players` (005), once, while the sink is not consuming yet, onto every row of the
-- person (the cancel rows too, so later cancels repeat it), and then the aggregates are
-- filled from fact_rows as the views would have. Facts of players with no known registration
-- stay out until the stream sends them again with it.
CREATE TABLE IF NOT EXISTS {db}.cohort_upgrade_registered
ENGINE = Join(ANY, LEFT, person_id) SETTINGS join_any_take_last_row = 1
AS SELECT person_id, registered_at FROM {db}.players WHERE registered_at IS NOT NULL;

ALTER TABLE {db}.fact_rows
    UPDATE registered_at = joinGetOrNull('{db}.cohort_upgrade_registered', 'registered_at', person_id)
    WHERE registered_at IS NULL
SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;

DROP TABLE IF EXISTS {db}.cohort_upgrade_registered;

INSERT INTO {db}.cohort_agg
SELECT brand_id,
       toStartOfFifteenMinutes(toDateTime(assumeNotNull(registered_at), 'UTC')) AS reg_slot,
       affiliate_id, campaign_id,
       toInt32(dateDiff('day', toDate(assumeNotNull(registered_at), 'UTC'), day)) AS age_days,
       currency,
       sum(sign * toInt64(registrations)), sum(sign * toInt64(ftds)),
       sum(sign * toInt64(deposits)), toDecimal128(sum(sign * deposit_sum), 4),
       toDecimal128(sum(sign * stakes), 4), toDecimal128(sum(sign * wins), 4),
       toDecimal128(sum(sign * bonus_cost), 4), toDecimal128(sum(sign * chargeback_sum), 4)
FROM {db}.fact_rows
WHERE registered_at IS NOT NULL
GROUP BY brand_id, reg_slot, affiliate_id, campaign_id, age_days, currency;

INSERT INTO {db}.cohort_activity
SELECT brand_id,
       toStartOfFifteenMinutes(toDateTime(assumeNotNull(registered_at), 'UTC')) AS reg_slot,
       affiliate_id, campaign_id,
       toUInt16(intDiv(dateDiff('day', toDate(assumeNotNull(registered_at), 'UTC'), day), 30))
           AS period,
       person_id, sum(toInt64(sign))
FROM {db}.fact_rows
WHERE registered_at IS NOT NULL AND day >= toDate(assumeNotNull(registered_at), 'UTC')
  AND (deposits > 0 OR stakes > 0)
GROUP BY brand_id, reg_slot, affiliate_id, campaign_id, period, person_id;

-- cohort_ltv (documented, docs/cohorts.md): per brand, affiliate, campaign, UTC registration
-- day (with its ISO week's Monday and its month, to roll up by) and currency: the players
-- registered ('' row only), FTDs, and deposits (count and amount) and NGR in all, at 30, 90
-- and 365 days. Every column is a sum, so sum() over any rollup stays exact; `players` sits on
-- the '' row and the money on each currency's row, as in funnel_daily.
CREATE VIEW IF NOT EXISTS {db}.cohort_ltv AS
SELECT brand_id, affiliate_id, campaign_id, cohort_day,
       toMonday(cohort_day) AS cohort_week,
       toStartOfMonth(cohort_day) AS cohort_month,
       currency,
       sum(p) AS players,
       sum(f) AS ftds,
       sum(d) AS deposits,
       sum(ds) AS deposit_sum,
       sumIf(ds, age >= 0 AND age < 30) AS deposit_sum_30,
       sumIf(ds, age >= 0 AND age < 90) AS deposit_sum_90,
       sumIf(ds, age >= 0 AND age < 365) AS deposit_sum_365,
       sum(n) AS ngr,
       sumIf(n, age >= 0 AND age < 30) AS ngr_30,
       sumIf(n, age >= 0 AND age < 90) AS ngr_90,
       sumIf(n, age >= 0 AND age < 365) AS ngr_365
FROM
(
    -- Renamed, so that no sum() above is read as the column of its own name.
    SELECT brand_id, affiliate_id, campaign_id, toDate(reg_slot, 'UTC') AS cohort_day, currency,
           age_days AS age, players AS p, ftds AS f, deposits AS d, deposit_sum AS ds,
           stakes - wins - bonus_cost - chargeback_sum AS n,
           stakes != 0 OR wins != 0 OR bonus_cost != 0 OR chargeback_sum != 0 AS moved
    FROM {db}.cohort_agg
)
GROUP BY brand_id, affiliate_id, campaign_id, cohort_day, currency
HAVING players != 0 OR ftds != 0 OR deposits != 0 OR deposit_sum != 0 OR max(moved);

-- cohort_retention (documented, docs/cohorts.md): per brand, affiliate, campaign, UTC
-- registration day (week, month) and period N (ages [30N, 30N + 30) days): the players active
-- in it. A person belongs to one registration day, so sum(active) over days is exact.
CREATE VIEW IF NOT EXISTS {db}.cohort_retention AS
SELECT brand_id, affiliate_id, campaign_id, cohort_day,
       toMonday(cohort_day) AS cohort_week,
       toStartOfMonth(cohort_day) AS cohort_month,
       period,
       toInt64(count()) AS active
FROM
(
    SELECT brand_id, affiliate_id, campaign_id, toDate(reg_slot, 'UTC') AS cohort_day, period,
           person_id
    FROM {db}.cohort_activity
    GROUP BY brand_id, affiliate_id, campaign_id, cohort_day, period, person_id
    HAVING sum(active) > 0
)
GROUP BY brand_id, affiliate_id, campaign_id, cohort_day, period;
