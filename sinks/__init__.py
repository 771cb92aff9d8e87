"""Sinks: push the pipeline's results outward (postbacks) and into ClickHouse."""
