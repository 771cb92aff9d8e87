-- clickpath ClickHouse schema, version 8: `delivery_log`, the delivery log as analysts read it
-- (`clickpath sql`, POST /v1/sql; docs/delivery.md#delivery-log). One row per attempt (or
-- decision not to attempt) of a postback or webhook. A replayed attempt record is written again
-- (`delivery_attempts` is a ReplacingMergeTree on this key): grouping by the table's key reads
-- each once before any merge, so no read needs FINAL (DESIGN.md §9). `brand_id` is the brand of
-- the conversion or event delivered, which scopes a brand's analysts to their own deliveries.
CREATE VIEW IF NOT EXISTS {db}.delivery_log AS
SELECT endpoint_id,
       job_id,
       attempt,
       outcome,
       any(kind) AS kind,
       any(event) AS event,
       any(affiliate_id) AS affiliate_id,
       any(brand_id) AS brand_id,
       any(status) AS status,
       any(latency_ms) AS latency_ms,
       any(error) AS error,
       min(attempted_at) AS attempted_at
FROM {db}.delivery_attempts
GROUP BY endpoint_id, job_id, attempt, outcome;
