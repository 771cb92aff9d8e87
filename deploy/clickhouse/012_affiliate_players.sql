-- clickpath ClickHouse schema, version 12: each affiliate's players' CPA status and reason codes
-- (AffiliatePlayerStatus on commissions.players; docs/affiliate-api.md), what
-- GET /v1/affiliate/players lists and the statements' "on hold" reads.
--
-- The commissions stage sends a player's status only when it changes, with a version that
-- increases per (affiliate, player token); a replay may send a version again or an older one
-- after a newer one. The table keeps the highest version on merge, and every read groups by
-- the key and takes the highest version's values (`affiliate_players`), so a read is exact
-- before any merge, without FINAL (DESIGN.md §9). `player_token` is the per-affiliate token,
-- never a player id; `shares_data` false (consent withdrawn) is counted, never listed.
CREATE TABLE IF NOT EXISTS {db}.affiliate_player_status
(
    affiliate_id  LowCardinality(String),
    player_token  String,
    brand_id      LowCardinality(String),
    campaign_id   Nullable(String),
    registered_at Nullable(DateTime64(3, 'UTC')),
    status        LowCardinality(String),
    reasons       Array(LowCardinality(String)),
    cpa_amount    Decimal(38, 6),
    currency      LowCardinality(String),
    qualified_at  Nullable(DateTime64(3, 'UTC')),
    shares_data   Bool,
    version       UInt64,
    updated_at    DateTime64(3, 'UTC'),
    written_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (affiliate_id, player_token);

-- One row per (affiliate, player token): the newest status.
CREATE VIEW IF NOT EXISTS {db}.affiliate_players AS
SELECT affiliate_id,
       player_token,
       s.1 AS brand_id,
       s.2 AS campaign_id,
       s.3 AS registered_at,
       s.4 AS status,
       s.5 AS reasons,
       s.6 AS cpa_amount,
       s.7 AS currency,
       s.8 AS qualified_at,
       s.9 AS shares_data,
       s.10 AS updated_at,
       newest AS version
FROM
(
    SELECT affiliate_id, player_token,
           argMax(tuple(brand_id, campaign_id, registered_at, status, reasons, cpa_amount,
                        currency, qualified_at, shares_data, updated_at), version) AS s,
           max(version) AS newest
    FROM {db}.affiliate_player_status
    GROUP BY affiliate_id, player_token
);
