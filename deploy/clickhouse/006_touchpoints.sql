-- clickpath ClickHouse schema, version 6: touchpoints, the clicks linked to each registered
-- person, and their paths (DESIGN.md §6, docs/touchpoints.md), exact without FINAL.
--
-- A registration names one click (its last); the person's earlier clicks are found through the
-- web SDK's device id. Links made:
--   named_click  the click the registration names (always, whatever its time);
--   device       a click of the same brand and device id within the lookback window before
--                the registration (registered_at - lookback <= clicked_at <= registered_at).
-- A later identity graph adds more kinds of link.
--
-- Links are made incrementally by the ClickHouse sink right after it writes canonical events
-- (clickpath/infra/touchpoints.py): it writes each click and registration of the batch into
-- the two key tables below, then looks the other side up there. Whichever of a click and its
-- registration is written second finds the first, in any arrival order. The sink writes the
-- key rows itself, for every event of every batch it writes, replays included (not a
-- materialized view on `events`): a sink killed between an events part and a view's part
-- would otherwise leave an event that is never keyed, since a replay skips known event ids.

-- Every click under each key a registration may reach it by: via 'click' (key = click_id) and,
-- when it has one, via 'device' (key = device_id). Partitioned by month: a look-up for a batch
-- reads the months its lookback window spans, and in them only the granules of its keys.
-- Duplicated rows (a replayed batch) are harmless: readers pair rows, they do not count them.
CREATE TABLE IF NOT EXISTS {db}.touchpoint_click_keys
(
    brand_id     LowCardinality(String),
    via          LowCardinality(String),
    key          String,
    occurred_at  DateTime64(3, 'UTC'),
    click_id     String,
    device_id    String,
    affiliate_id LowCardinality(String),
    campaign_id  LowCardinality(String),
    sub1 String, sub2 String, sub3 String, sub4 String, sub5 String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (brand_id, via, key, occurred_at, click_id)
SETTINGS index_granularity = 1024;

-- Every registration under the keys it reaches clicks by: via 'click' (key = the click it
-- names) and via 'device' (key = its device id).
CREATE TABLE IF NOT EXISTS {db}.touchpoint_registration_keys
(
    brand_id      LowCardinality(String),
    via           LowCardinality(String),
    key           String,
    registered_at DateTime64(3, 'UTC'),
    person_id     String,
    device_id     String,
    click_id      String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(registered_at)
ORDER BY (brand_id, via, key, registered_at, person_id)
SETTINGS index_granularity = 1024;

-- One row per person and linked click. A link written again (a replay, both sides of a pair
-- finding each other, two sinks) is an identical row, or the same click reached both ways:
-- `link_rank` makes a merge keep the named click's row, and the views group by the key, so
-- reads are exact before any merge.
CREATE TABLE IF NOT EXISTS {db}.touchpoint_rows
(
    brand_id      LowCardinality(String),
    person_id     String,
    click_id      String,
    affiliate_id  LowCardinality(String),
    campaign_id   LowCardinality(String),
    sub1 String, sub2 String, sub3 String, sub4 String, sub5 String,
    clicked_at    DateTime64(3, 'UTC'),
    registered_at DateTime64(3, 'UTC'),
    link          LowCardinality(String),
    device_id     String,
    link_rank     UInt8 MATERIALIZED if(link = 'named_click', 2, 1)
)
ENGINE = ReplacingMergeTree(link_rank)
PARTITION BY toYYYYMM(registered_at)
ORDER BY (brand_id, person_id, click_id);

-- The documented view: one row per person and linked click. `link` is 'named_click' when the
-- registration named the click (whether or not the device links it too), else 'device'.
-- Every linked click is here, the named one even when outside the window (the contract
-- attribution then calls the player unattributed); query_paths keeps the window's clicks.
CREATE VIEW IF NOT EXISTS {db}.touchpoints AS
SELECT brand_id, person_id, click_id,
       any(affiliate_id) AS affiliate_id,
       any(campaign_id) AS campaign_id,
       any(sub1) AS sub1, any(sub2) AS sub2, any(sub3) AS sub3, any(sub4) AS sub4,
       any(sub5) AS sub5,
       min(clicked_at) AS clicked_at,
       min(registered_at) AS registered_at,
       -- 'named_click' > 'device': the stronger link wins
       max(link) AS link,
       any(device_id) AS device_id
FROM {db}.touchpoint_rows
GROUP BY brand_id, person_id, click_id;

-- The documented view: one row per person with touchpoints, the clicks in time order (parallel
-- arrays, oldest first: clicked_at[1] is the first touch), the conversions and the person's
-- lifetime value per currency from `players`.
CREATE VIEW IF NOT EXISTS {db}.touchpoint_paths AS
SELECT t.brand_id AS brand_id,
       t.person_id AS person_id,
       t.registered_at AS registered_at,
       arrayMap(x -> x.1, t.touches) AS clicked_at,
       arrayMap(x -> x.3, t.touches) AS affiliate_ids,
       arrayMap(x -> x.4, t.touches) AS campaign_ids,
       arrayMap(x -> x.2, t.touches) AS click_ids,
       arrayMap(x -> x.5, t.touches) AS links,
       length(t.touches) AS touches,
       toUInt8(1) AS registered,
       p.first_deposit_at AS first_deposit_at,
       toUInt8(p.first_deposit_at IS NOT NULL) AS ftd,
       p.deposit_sum AS deposit_sum,
       p.ngr AS ngr
FROM
(
    SELECT brand_id, person_id, min(registered_at) AS registered_at,
           arraySort(groupArray((clicked_at, click_id, affiliate_id, campaign_id, link))) AS touches
    FROM {db}.touchpoints
    GROUP BY brand_id, person_id
) AS t
LEFT JOIN
(
    SELECT person_id, first_deposit_at, deposit_sum, ngr FROM {db}.players
) AS p ON p.person_id = t.person_id;

-- Carry what earlier versions hold over (once, at upgrade; the sink is not consuming yet).
-- The links use the default 30-day lookback (settings.attribution_lookback_days); the sink
-- links new events with the configured one.
INSERT INTO {db}.touchpoint_click_keys
SELECT brand_id, kv.1 AS via, kv.2 AS key, occurred_at, click_id, device_id, affiliate_id,
       campaign_id, sub1, sub2, sub3, sub4, sub5
FROM
(
    SELECT brand_id, occurred_at, click_id, affiliate_id, campaign_id,
           JSONExtractString(payload, 'device_id') AS device_id,
           JSONExtractString(payload, 'sub1') AS sub1,
           JSONExtractString(payload, 'sub2') AS sub2,
           JSONExtractString(payload, 'sub3') AS sub3,
           JSONExtractString(payload, 'sub4') AS sub4,
           JSONExtractString(payload, 'sub5') AS sub5
    FROM {db}.events
    WHERE event_type = 'click'
)
ARRAY JOIN arrayFilter(x -> x.2 != '', [('click', click_id), ('device', device_id)]) AS kv;

INSERT INTO {db}.touchpoint_registration_keys
SELECT brand_id, kv.1 AS via, kv.2 AS key, occurred_at, person_id, device_id, click_id
FROM
(
    SELECT brand_id, occurred_at, person_id, click_id,
           JSONExtractString(payload, 'device_id') AS device_id
    FROM {db}.events
    WHERE event_type = 'registration'
)
ARRAY JOIN arrayFilter(x -> x.2 != '', [('click', click_id), ('device', device_id)]) AS kv;

INSERT INTO {db}.touchpoint_rows
    (brand_id, person_id, click_id, affiliate_id, campaign_id, sub1, sub2, sub3, sub4, sub5,
     clicked_at, registered_at, link, device_id)
SELECT r.brand_id, r.person_id, c.click_id, c.affiliate_id, c.campaign_id,
       c.sub1, c.sub2, c.sub3, c.sub4, c.sub5, c.occurred_at, r.registered_at,
       if(r.via = 'click', 'named_click', 'device'), c.device_id
FROM {db}.touchpoint_registration_keys AS r
INNER JOIN {db}.touchpoint_click_keys AS c
    ON c.brand_id = r.brand_id AND c.via = r.via AND c.key = r.key
WHERE r.via = 'click'
   OR (c.occurred_at <= r.registered_at AND c.occurred_at >= r.registered_at - INTERVAL 30 DAY);
