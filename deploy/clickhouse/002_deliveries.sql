-- clickpath ClickHouse schema, version 2: the delivery log, one row per attempt (or decision
-- not to attempt) of a postback or webhook. A replayed attempt record replaces its twin.

CREATE TABLE IF NOT EXISTS {db}.delivery_attempts
(
    job_id        String,
    endpoint_id   LowCardinality(String),
    kind          LowCardinality(String),
    event         LowCardinality(String),
    affiliate_id  LowCardinality(String),
    brand_id      LowCardinality(String),
    attempt       UInt16,
    status        Nullable(UInt16),
    latency_ms    UInt32,
    outcome       LowCardinality(String),
    error         String,
    attempted_at  DateTime64(3, 'UTC'),
    written_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (endpoint_id, job_id, attempt, outcome);
