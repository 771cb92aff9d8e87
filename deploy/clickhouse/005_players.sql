-- clickpath ClickHouse schema, version 5: the players (DESIGN.md §5), each player's newest
-- profile (PlayerProfile on players.profiles), exact without FINAL (docs/architecture.md#players).
--
-- The player stage emits a profile whenever a player changes, with a version that increases per
-- player; a replay may re-send the same version or older ones after newer ones. The sink
-- inserts the profiles as they come into `player_profile_rows` (a Null table: it stores nothing,
-- its view sees every insert); the view keeps, per person, an argMax state of each column by
-- version in `players_agg`. argMax keeps the values of the highest version whatever the order
-- rows arrive or merge in, and a duplicate changes nothing, so `players` (argMaxMerge grouped
-- by person) is exact whether or not ClickHouse has merged yet, and no insert ever needs a
-- look-up or a cancel row. A person's version names one profile (the player stage's contract).
--
-- Nullable columns are kept in a one-element tuple inside the state: argMax skips NULL values,
-- and a newer profile may clear a time (an FTD refunded: first_deposit_at back to NULL).
--
-- Money is lifetime totals per currency, one Map(currency -> amount) per measure (every map of
-- a profile has the same currencies); `players_money` unfolds them into a row per currency.

CREATE TABLE IF NOT EXISTS {db}.player_profile_rows
(
    person_id         String,
    brand_id          LowCardinality(String),
    player_id         String,
    registered_at     Nullable(DateTime64(3, 'UTC')),
    kyc_status        LowCardinality(String),
    first_deposit_at  Nullable(DateTime64(3, 'UTC')),
    ftd_amount        Nullable(Decimal(20, 4)),
    ftd_currency      LowCardinality(String),
    deposits          UInt32,
    declined_deposits UInt32,
    withdrawals       UInt32,
    chargebacks       UInt32,
    deposit_sum       Map(LowCardinality(String), Decimal(20, 4)),
    withdrawal_sum    Map(LowCardinality(String), Decimal(20, 4)),
    chargeback_sum    Map(LowCardinality(String), Decimal(20, 4)),
    stakes            Map(LowCardinality(String), Decimal(20, 4)),
    wins              Map(LowCardinality(String), Decimal(20, 4)),
    bonus_stakes      Map(LowCardinality(String), Decimal(20, 4)),
    bonus_cost        Map(LowCardinality(String), Decimal(20, 4)),
    ggr               Map(LowCardinality(String), Decimal(20, 4)),
    ngr               Map(LowCardinality(String), Decimal(20, 4)),
    sessions          UInt32,
    last_activity_at  Nullable(DateTime64(3, 'UTC')),
    first_activity_at Nullable(DateTime64(3, 'UTC')),
    activity_events   UInt32,
    consents          Map(LowCardinality(String), Bool),
    rg_active         Array(LowCardinality(String)),
    tag_status        LowCardinality(String),
    affiliate_id      LowCardinality(String),
    campaign_id       LowCardinality(String),
    churn_risk        Float64,
    updated_at        DateTime64(3, 'UTC'),
    version           UInt64
)
ENGINE = Null;

CREATE TABLE IF NOT EXISTS {db}.players_agg
(
    person_id         String,
    brand_id          AggregateFunction(argMax, LowCardinality(String), UInt64),
    player_id         AggregateFunction(argMax, String, UInt64),
    registered_at     AggregateFunction(argMax, Tuple(Nullable(DateTime64(3, 'UTC'))), UInt64),
    kyc_status        AggregateFunction(argMax, LowCardinality(String), UInt64),
    first_deposit_at  AggregateFunction(argMax, Tuple(Nullable(DateTime64(3, 'UTC'))), UInt64),
    ftd_amount        AggregateFunction(argMax, Tuple(Nullable(Decimal(20, 4))), UInt64),
    ftd_currency      AggregateFunction(argMax, LowCardinality(String), UInt64),
    deposits          AggregateFunction(argMax, UInt32, UInt64),
    declined_deposits AggregateFunction(argMax, UInt32, UInt64),
    withdrawals       AggregateFunction(argMax, UInt32, UInt64),
    chargebacks       AggregateFunction(argMax, UInt32, UInt64),
    deposit_sum       AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    withdrawal_sum    AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    chargeback_sum    AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    stakes            AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    wins              AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    bonus_stakes      AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    bonus_cost        AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    ggr               AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    ngr               AggregateFunction(argMax, Map(LowCardinality(String), Decimal(20, 4)), UInt64),
    sessions          AggregateFunction(argMax, UInt32, UInt64),
    last_activity_at  AggregateFunction(argMax, Tuple(Nullable(DateTime64(3, 'UTC'))), UInt64),
    first_activity_at AggregateFunction(argMax, Tuple(Nullable(DateTime64(3, 'UTC'))), UInt64),
    activity_events   AggregateFunction(argMax, UInt32, UInt64),
    consents          AggregateFunction(argMax, Map(LowCardinality(String), Bool), UInt64),
    rg_active         AggregateFunction(argMax, Array(LowCardinality(String)), UInt64),
    tag_status        AggregateFunction(argMax, LowCardinality(String), UInt64),
    affiliate_id      AggregateFunction(argMax, LowCardinality(String), UInt64),
    campaign_id       AggregateFunction(argMax, LowCardinality(String), UInt64),
    churn_risk        AggregateFunction(argMax, Float64, UInt64),
    updated_at        AggregateFunction(argMax, DateTime64(3, 'UTC'), UInt64),
    version           SimpleAggregateFunction(max, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY person_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.players_mv TO {db}.players_agg AS
SELECT person_id,
       argMaxState(brand_id, v) AS brand_id,
       argMaxState(player_id, v) AS player_id,
       argMaxState(tuple(registered_at), v) AS registered_at,
       argMaxState(kyc_status, v) AS kyc_status,
       argMaxState(tuple(first_deposit_at), v) AS first_deposit_at,
       argMaxState(tuple(ftd_amount), v) AS ftd_amount,
       argMaxState(ftd_currency, v) AS ftd_currency,
       argMaxState(deposits, v) AS deposits,
       argMaxState(declined_deposits, v) AS declined_deposits,
       argMaxState(withdrawals, v) AS withdrawals,
       argMaxState(chargebacks, v) AS chargebacks,
       argMaxState(deposit_sum, v) AS deposit_sum,
       argMaxState(withdrawal_sum, v) AS withdrawal_sum,
       argMaxState(chargeback_sum, v) AS chargeback_sum,
       argMaxState(stakes, v) AS stakes,
       argMaxState(wins, v) AS wins,
       argMaxState(bonus_stakes, v) AS bonus_stakes,
       argMaxState(bonus_cost, v) AS bonus_cost,
       argMaxState(ggr, v) AS ggr,
       argMaxState(ngr, v) AS ngr,
       argMaxState(sessions, v) AS sessions,
       argMaxState(tuple(last_activity_at), v) AS last_activity_at,
       argMaxState(tuple(first_activity_at), v) AS first_activity_at,
       argMaxState(activity_events, v) AS activity_events,
       argMaxState(consents, v) AS consents,
       argMaxState(rg_active, v) AS rg_active,
       argMaxState(tag_status, v) AS tag_status,
       argMaxState(affiliate_id, v) AS affiliate_id,
       argMaxState(campaign_id, v) AS campaign_id,
       argMaxState(churn_risk, v) AS churn_risk,
       argMaxState(updated_at, v) AS updated_at,
       max(v) AS version
-- `v`, not `version`: the alias of the last column would shadow it in the others.
FROM (SELECT *, version AS v FROM {db}.player_profile_rows)
GROUP BY person_id;

-- The documented view: one row per person, the newest profile. Filters on its columns apply
-- after the merge (e.g. WHERE affiliate_id = 'aff-1'); filter on person_id to read one player.
CREATE VIEW IF NOT EXISTS {db}.players AS
SELECT person_id,
       argMaxMerge(brand_id) AS brand_id,
       argMaxMerge(player_id) AS player_id,
       argMaxMerge(registered_at).1 AS registered_at,
       argMaxMerge(kyc_status) AS kyc_status,
       argMaxMerge(first_deposit_at).1 AS first_deposit_at,
       argMaxMerge(ftd_amount).1 AS ftd_amount,
       argMaxMerge(ftd_currency) AS ftd_currency,
       argMaxMerge(deposits) AS deposits,
       argMaxMerge(declined_deposits) AS declined_deposits,
       argMaxMerge(withdrawals) AS withdrawals,
       argMaxMerge(chargebacks) AS chargebacks,
       argMaxMerge(deposit_sum) AS deposit_sum,
       argMaxMerge(withdrawal_sum) AS withdrawal_sum,
       argMaxMerge(chargeback_sum) AS chargeback_sum,
       argMaxMerge(stakes) AS stakes,
       argMaxMerge(wins) AS wins,
       argMaxMerge(bonus_stakes) AS bonus_stakes,
       argMaxMerge(bonus_cost) AS bonus_cost,
       argMaxMerge(ggr) AS ggr,
       argMaxMerge(ngr) AS ngr,
       argMaxMerge(sessions) AS sessions,
       argMaxMerge(last_activity_at).1 AS last_activity_at,
       argMaxMerge(first_activity_at).1 AS first_activity_at,
       argMaxMerge(activity_events) AS activity_events,
       argMaxMerge(consents) AS consents,
       argMaxMerge(rg_active) AS rg_active,
       argMaxMerge(tag_status) AS tag_status,
       argMaxMerge(affiliate_id) AS affiliate_id,
       argMaxMerge(campaign_id) AS campaign_id,
       argMaxMerge(churn_risk) AS churn_risk,
       -- The same score (domain/profile.py) from the player's rhythm and the time of the read:
       -- an idle player's risk keeps rising with no event and no timer.
       toFloat64(ifNull(
           round(1 - exp(-greatest(0, dateDiff('second', last_activity_at, now64(3)))
                         / (3 * if(activity_events > 1,
                                   greatest(86400, dateDiff('second', first_activity_at,
                                                            last_activity_at)
                                                   / (activity_events - 1)),
                                   86400))), 4),
           0)) AS churn_risk_now,
       argMaxMerge(updated_at) AS updated_at,
       toUInt64(max(version)) AS version
FROM {db}.players_agg
GROUP BY person_id;

-- A row per player and currency of their money: SELECT ngr FROM players_money WHERE currency = 'EUR'.
CREATE VIEW IF NOT EXISTS {db}.players_money AS
SELECT person_id, brand_id, affiliate_id, campaign_id, currency,
       deposit_sum[currency] AS deposit_sum,
       withdrawal_sum[currency] AS withdrawal_sum,
       chargeback_sum[currency] AS chargeback_sum,
       stakes[currency] AS stakes,
       wins[currency] AS wins,
       bonus_stakes[currency] AS bonus_stakes,
       bonus_cost[currency] AS bonus_cost,
       ggr[currency] AS ggr,
       ngr[currency] AS ngr
FROM {db}.players
ARRAY JOIN mapKeys(players.ngr) AS currency;
