"""The versioned ClickHouse DDL, applied in order; installed as package data of `clickpath.ddl`."""
