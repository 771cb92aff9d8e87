"""The ClickHouse sink, by role: one process that consumes the pipeline's outputs into ClickHouse
and, with the embedded engine, answers the HTTP service's report queries.

- `writer`: the BatchSink (collect, write each table once per batch, link touchpoints, commit)
  and the topics it subscribes to.
- `startup`: what runs before the first batch (migrations, repairs of the aggregates).
- `rows`: every row the writer inserts, as plain functions.
- `reports`: the loopback report server and the read sessions behind it.
- `process`: `clickpath sink clickhouse`, the three assembled.

Only this process may open the embedded engine's data directory, so the report server runs in
it, beside the writer, never in a process of its own.
"""
