-- clickpath ClickHouse schema, version 15: `consent_log`, the append-only consent history
-- (docs/privacy.md#consent): one row per consent event of a brand account, every change ever
-- sent, superseded or not. What `GET /v1/players/{player_id}/consents` and the subject-access
-- export read.
--
-- The player stage sends every consent event it accepts to the canonical events (a late
-- "granted" from before a withdrawal too: it is part of the log, though it changes nothing), and
-- the ClickHouse sink writes them to `events` with `purpose` and `granted` in the payload. A
-- replayed event is written again under the same key (brand, type, event id): grouping by the
-- event id reads each once before any merge, so no read needs FINAL (DESIGN.md §9). Twins are
-- the same event; only `processed_at` can differ (a replay after a crash), and the first is kept.
-- Nothing here is personal data beyond the player id: purposes, times, sources and ids.
CREATE VIEW IF NOT EXISTS {db}.consent_log AS
SELECT brand_id,
       player_id,
       event_id,
       e.1 AS purpose,
       e.2 AS granted,
       if(e.2, 'granted', 'withdrawn') AS status,
       e.3 AS occurred_at,
       e.4 AS received_at,
       e.5 AS source,
       processed_at
FROM
(
    SELECT brand_id, player_id, event_id,
           any(tuple(JSONExtractString(payload, 'purpose'), toBool(JSONExtractBool(payload, 'granted')),
                     occurred_at, received_at, source)) AS e,
           min(processed_at) AS processed_at
    FROM {db}.events
    WHERE event_type = 'consent'
    GROUP BY brand_id, player_id, event_id
);
