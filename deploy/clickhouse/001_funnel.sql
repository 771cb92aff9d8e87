-- clickpath ClickHouse schema, version 1: canonical events, funnel facts, attributions, funnel view.
-- Applied in order by the ClickHouse sink at start (clickpath.clickhouse.apply_migrations);
-- {db} is the configured database. Every table tolerates replays: a re-inserted row replaces
-- its twin (ReplacingMergeTree) and queries read with FINAL.

CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id       String,
    event_type     LowCardinality(String),
    occurred_at    DateTime64(3, 'UTC'),
    received_at    Nullable(DateTime64(3, 'UTC')),
    processed_at   DateTime64(3, 'UTC'),
    written_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    brand_id       LowCardinality(String),
    source         LowCardinality(String),
    person_id      String,
    player_id      String,
    click_id       String,
    affiliate_id   LowCardinality(String),
    campaign_id    LowCardinality(String),
    transaction_id String,
    amount         Nullable(Decimal(20, 4)),
    currency       LowCardinality(String),
    is_ftd         Bool,
    payload        String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (brand_id, event_type, event_id);

-- One row per player, day and currency ('' holds the registration), replaced by newer versions:
-- a late attribution re-tags every row of the player instead of counting them twice.
CREATE TABLE IF NOT EXISTS {db}.player_day_facts
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
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (brand_id, person_id, day, currency);

CREATE TABLE IF NOT EXISTS {db}.attributions
(
    person_id     String,
    brand_id      LowCardinality(String),
    player_id     String,
    click_id      String,
    status        LowCardinality(String),
    reason        String,
    affiliate_id  LowCardinality(String),
    campaign_id   LowCardinality(String),
    sub1 String, sub2 String, sub3 String, sub4 String, sub5 String,
    clicked_at    Nullable(DateTime64(3, 'UTC')),
    registered_at DateTime64(3, 'UTC'),
    decided_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(decided_at)
ORDER BY (brand_id, person_id);

-- The funnel by day, brand, affiliate, campaign and currency. A view, not a materialized view:
-- facts are replaced when a late attribution arrives, and a materialized view cannot retract.
CREATE VIEW IF NOT EXISTS {db}.funnel_daily AS
SELECT
    day, brand_id, affiliate_id, campaign_id, currency,
    sum(clicks) AS clicks,
    sum(registrations) AS registrations,
    sum(ftds) AS ftds,
    sum(deposits) AS deposits,
    sum(deposit_sum) AS deposit_sum
FROM
(
    SELECT toDate(occurred_at) AS day, brand_id, affiliate_id, campaign_id, '' AS currency,
           count() AS clicks, toUInt64(0) AS registrations, toUInt64(0) AS ftds,
           toUInt64(0) AS deposits, toDecimal128(0, 4) AS deposit_sum
    FROM {db}.events FINAL
    WHERE event_type = 'click'
    GROUP BY day, brand_id, affiliate_id, campaign_id
    UNION ALL
    SELECT day, brand_id, affiliate_id, campaign_id, currency,
           toUInt64(0), sum(registrations), sum(ftds), sum(deposits),
           toDecimal128(sum(deposit_sum), 4)
    FROM {db}.player_day_facts FINAL
    GROUP BY day, brand_id, affiliate_id, campaign_id, currency
)
GROUP BY day, brand_id, affiliate_id, campaign_id, currency;
