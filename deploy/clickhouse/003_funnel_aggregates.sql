-- clickpath ClickHouse schema, version 3: retractable funnel facts and materialized aggregates,
-- so no read path needs FINAL (docs/architecture.md#clickhouse).
--
-- The ClickHouse sink writes each fact version once: a new version of a player's (day, currency)
-- fact is written as the cancel of the row it replaces (sign -1, the old values and version)
-- plus the new row (sign +1). The sink looks the replaced row up in fact_rows itself, and
-- skips versions not newer than the stored one, so duplicate, replayed or regressing facts
-- (a restarted stream worker re-sends them) change nothing. Every sum weighted by `sign` is
-- exact without FINAL; merges only collapse cancelled pairs.

CREATE TABLE IF NOT EXISTS {db}.fact_rows
(
    person_id     String,
    brand_id      LowCardinality(String),
    day           Date,
    currency      LowCardinality(String),
    affiliate_id  LowCardinality(String),
    campaign_id   LowCardinality(String),
    registrations UInt32,
    ftds          UInt32,
    deposits      UInt32,
    deposit_sum   Decimal(20, 4),
    version       UInt64,
    sign          Int8
)
ENGINE = VersionedCollapsingMergeTree(sign, version)
ORDER BY (person_id, day, currency)
SETTINGS non_replicated_deduplication_window = 1000;

-- The funnel by day, brand, affiliate, campaign and currency ('' holds clicks and
-- registrations), summed by the views below as rows arrive. A cancelled fact adds negative
-- numbers, so partial sums may be negative until merged; readers always sum().
CREATE TABLE IF NOT EXISTS {db}.funnel_agg
(
    brand_id      LowCardinality(String),
    day           Date,
    affiliate_id  LowCardinality(String),
    campaign_id   LowCardinality(String),
    currency      LowCardinality(String),
    clicks        Int64,
    registrations Int64,
    ftds          Int64,
    deposits      Int64,
    deposit_sum   Decimal(38, 4)
)
ENGINE = SummingMergeTree
ORDER BY (brand_id, day, affiliate_id, campaign_id, currency)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.funnel_facts_mv TO {db}.funnel_agg AS
SELECT brand_id, day, affiliate_id, campaign_id, currency,
       toInt64(0) AS clicks,
       sum(sign * toInt64(registrations)) AS registrations,
       sum(sign * toInt64(ftds)) AS ftds,
       sum(sign * toInt64(deposits)) AS deposits,
       toDecimal128(sum(sign * deposit_sum), 4) AS deposit_sum
FROM {db}.fact_rows
GROUP BY brand_id, day, affiliate_id, campaign_id, currency;

-- Clicks: the sink writes each canonical event id once (it skips ids already in `events`).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.funnel_clicks_mv TO {db}.funnel_agg AS
SELECT brand_id, toDate(occurred_at) AS day, affiliate_id, campaign_id, '' AS currency,
       toInt64(count()) AS clicks, toInt64(0) AS registrations, toInt64(0) AS ftds,
       toInt64(0) AS deposits, toDecimal128(0, 4) AS deposit_sum
FROM {db}.events
WHERE event_type = 'click'
GROUP BY brand_id, day, affiliate_id, campaign_id;

ALTER TABLE {db}.events MODIFY SETTING non_replicated_deduplication_window = 1000;

-- Carry what version 1 holds over (once, at upgrade; the sink is not consuming yet). The
-- fact rows' view fills funnel_agg from the first insert; clicks are copied directly.
OPTIMIZE TABLE {db}.events FINAL;

INSERT INTO {db}.fact_rows
SELECT person_id, brand_id, day, currency, affiliate_id, campaign_id, registrations, ftds,
       deposits, deposit_sum, version, toInt8(1)
FROM {db}.player_day_facts FINAL;

INSERT INTO {db}.funnel_agg
SELECT brand_id, toDate(occurred_at) AS day, affiliate_id, campaign_id, '' AS currency,
       toInt64(count()), toInt64(0), toInt64(0), toInt64(0), toDecimal128(0, 4)
FROM {db}.events FINAL
WHERE event_type = 'click'
GROUP BY brand_id, day, affiliate_id, campaign_id;

-- The documented view keeps its name and columns; it now sums the aggregates.
DROP VIEW IF EXISTS {db}.funnel_daily;

CREATE VIEW {db}.funnel_daily AS
SELECT day, brand_id, affiliate_id, campaign_id, currency,
       sum(clicks) AS clicks,
       sum(registrations) AS registrations,
       sum(ftds) AS ftds,
       sum(deposits) AS deposits,
       sum(deposit_sum) AS deposit_sum
FROM {db}.funnel_agg
GROUP BY day, brand_id, affiliate_id, campaign_id, currency
HAVING clicks != 0 OR registrations != 0 OR ftds != 0 OR deposits != 0 OR deposit_sum != 0;
