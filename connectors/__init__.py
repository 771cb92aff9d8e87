"""Connectors: the doors events come in by (operator SDK; HTTP ingress comes next)."""
