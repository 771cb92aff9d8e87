"""The operator SDK: produce clickpath events from your own Python code.

`EventProducer` validates each event against its model, encodes it in the Confluent wire
format and keys it as the pipeline expects. It lives in `clickpath.infra.producer` because the
stream agents send their outputs through the same class; this is its public name.
"""

from clickpath.infra.producer import EventProducer, NotAcknowledged

__all__ = ["NotAcknowledged", "EventProducer"]
