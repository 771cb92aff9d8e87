-- clickpath ClickHouse schema, version 14: the touchpoints come from the identity graph
-- (docs/touchpoints.md, docs/identity.md). The identity stage sends each click on a brand
-- account's path as a TouchpointLink (identity.touchpoints), which the sink writes into
-- identity_touchpoints (013); the ClickHouse sink no longer links clicks on its write path, so
-- touchpoint_click_keys, touchpoint_registration_keys and touchpoint_rows (006) take no new
-- rows. They are left in place (what they hold is carried over below) and are read by nothing.
--
-- The documented views `touchpoints` and `touchpoint_paths` keep their columns; they now read
-- identity_touchpoints, with a click's sub ids and device id from its canonical event.

-- The account's registration time, carried by TouchpointLink: the attribution paths measure
-- ages and the lookback window to it (infra/touchpoints/paths.py). A touchpoint sent again
-- after an earlier registration arrived late carries the earlier time: readers take the
-- account's minimum.
ALTER TABLE {db}.identity_touchpoints
    ADD COLUMN IF NOT EXISTS registered_at Nullable(DateTime64(3, 'UTC')) AFTER link;

-- identity_touchpoints_now as in 013, with the account's registration time.
CREATE OR REPLACE VIEW {db}.identity_touchpoints_now AS
SELECT brand_id, player_id, account, click_id,
       any(affiliate_id) AS affiliate_id,
       any(campaign_id) AS campaign_id,
       min(clicked_at) AS clicked_at,
       -- 'named_click' > 'device': the stronger link wins
       max(link) AS link,
       min(min(registered_at)) OVER (PARTITION BY brand_id, account) AS registered_at
FROM {db}.identity_touchpoints
GROUP BY brand_id, player_id, account, click_id;

-- One row per person (brand account) and click on its path: the named click whatever its time,
-- a device's click within the window. `registered_at` is the account's earliest; `link`
-- 'named_click' wins over 'device'. Sub ids and the device id are the click's own (its
-- canonical event); '' when the click event is not stored.
CREATE OR REPLACE VIEW {db}.touchpoints AS
SELECT t.brand_id AS brand_id,
       t.person_id AS person_id,
       t.click_id AS click_id,
       t.affiliate_id AS affiliate_id,
       t.campaign_id AS campaign_id,
       c.sub1 AS sub1, c.sub2 AS sub2, c.sub3 AS sub3, c.sub4 AS sub4, c.sub5 AS sub5,
       t.clicked_at AS clicked_at,
       t.registered_at AS registered_at,
       t.link AS link,
       c.device_id AS device_id
FROM
(
    SELECT brand_id, account AS person_id, click_id,
           any(affiliate_id) AS affiliate_id,
           any(campaign_id) AS campaign_id,
           min(clicked_at) AS clicked_at,
           min(min(registered_at)) OVER (PARTITION BY brand_id, account) AS registered_at,
           -- 'named_click' > 'device': the stronger link wins
           max(link) AS link
    FROM {db}.identity_touchpoints
    GROUP BY brand_id, account, click_id
) AS t
LEFT JOIN
(
    SELECT brand_id, click_id,
           any(JSONExtractString(payload, 'sub1')) AS sub1,
           any(JSONExtractString(payload, 'sub2')) AS sub2,
           any(JSONExtractString(payload, 'sub3')) AS sub3,
           any(JSONExtractString(payload, 'sub4')) AS sub4,
           any(JSONExtractString(payload, 'sub5')) AS sub5,
           any(JSONExtractString(payload, 'device_id')) AS device_id
    FROM {db}.events
    WHERE event_type = 'click' AND click_id != ''
    GROUP BY brand_id, click_id
) AS c ON c.brand_id = t.brand_id AND c.click_id = t.click_id;

-- One row per person with touchpoints, the clicks oldest first, the conversions and the
-- lifetime value from `players` (the same columns as in 006).
CREATE OR REPLACE VIEW {db}.touchpoint_paths AS
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
    SELECT brand_id, person_id, min(reg_at) AS registered_at,
           arraySort(groupArray((clicked_at, click_id, affiliate_id, campaign_id, link))) AS touches
    FROM
    (
        SELECT brand_id, account AS person_id, click_id,
               any(affiliate_id) AS affiliate_id,
               any(campaign_id) AS campaign_id,
               min(clicked_at) AS clicked_at,
               min(registered_at) AS reg_at,
               max(link) AS link
        FROM {db}.identity_touchpoints
        GROUP BY brand_id, account, click_id
    )
    GROUP BY brand_id, person_id
) AS t
LEFT JOIN
(
    SELECT person_id, first_deposit_at, deposit_sum, ngr FROM {db}.players
) AS p ON p.person_id = t.person_id;

-- Carry the links the sink made before this version over (once, at upgrade; the sink is not
-- consuming yet), so the paths already read keep their clicks. A link the identity stage sends
-- as well is the same key: kept once on merge, grouped by the views.
INSERT INTO {db}.identity_touchpoints
    (brand_id, player_id, account, click_id, affiliate_id, campaign_id, clicked_at, link,
     registered_at)
SELECT brand_id,
       if(position(person_id, ':') > 0, substring(person_id, position(person_id, ':') + 1),
          person_id),
       person_id, click_id, affiliate_id, campaign_id, clicked_at, link, registered_at
FROM {db}.touchpoint_rows;
