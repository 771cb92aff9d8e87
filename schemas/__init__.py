"""The Avro schemas, clickpath's contract; installed as package data of `clickpath.schemas`."""
