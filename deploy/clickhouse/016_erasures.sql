-- clickpath ClickHouse schema, version 16: erasure certificates (docs/privacy.md#erasure).
-- One row per erased brand account, written by the ClickHouse sink once it has destroyed the
-- account's key and anonymised its rows; a replayed erasure finds its row and writes none, so
-- the first certificate stands. `rows_anonymised`: per table, the rows the sink rewrote.

CREATE TABLE IF NOT EXISTS {db}.erasure_certificates
(
    brand_id             LowCardinality(String),
    player_id            String,
    account              String,
    request_id           String,
    requested_by         String,
    requested_at         DateTime64(3, 'UTC'),
    graph_erased_at      DateTime64(3, 'UTC'),
    key_destroyed_at     Nullable(DateTime64(3, 'UTC')),
    key_existed          Bool,
    identifiers_removed  UInt32,
    links_removed        UInt32,
    clicks_anonymised    UInt32,
    deliveries_revoked   Bool,
    rows_anonymised      Map(LowCardinality(String), UInt64),
    completed_at         DateTime64(3, 'UTC'),
    written_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (brand_id, player_id);
