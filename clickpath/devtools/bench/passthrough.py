"""The benchmark's baselines: what the framework and the machine can do with no pipeline logic.

- `faust_passthrough`: a bare Faust agent that forwards every record from one topic to another,
  built with the pipeline's own app settings (clickpath.streams.app.faust_app), so the gap between it and
  the pipeline is the pipeline's own cost. Run as `python -m clickpath.devtools.bench.passthrough SRC DST`.
- `raw_passthrough`: a confluent-kafka consume -> produce loop, the machine's ceiling.
"""

from __future__ import annotations

import sys
import time
import uuid

import faust
from confluent_kafka import Consumer

from clickpath.infra.kafka import consumer_config, make_producer
from clickpath.settings import Settings


def faust_passthrough(settings: Settings, source: str, target: str) -> None:
    from clickpath.streams.app import faust_app, run_app

    app = faust_app(settings, settings.data_dir / "passthrough", f"{settings.topic_prefix}-pt")
    src = app.topic(source, partitions=settings.partitions, key_serializer="raw", value_serializer="raw")
    dst = app.topic(target, partitions=settings.partitions, key_serializer="raw", value_serializer="raw")

    @app.agent(src, concurrency=1)
    async def forward(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await dst.send(key=event.key, value=event.value)

    run_app(app, settings)


def raw_passthrough(settings: Settings, source: str, target: str, count: int) -> float:
    """Consume `count` records and produce each to `target`; events/s from first to last."""
    consumer = Consumer(
        consumer_config(settings, f"bench-raw-{uuid.uuid4().hex[:8]}", **{"enable.auto.commit": True})
    )
    producer = make_producer(settings)
    consumer.subscribe([source])
    done, started = 0, None
    try:
        while done < count:
            batch = consumer.consume(num_messages=1000, timeout=1.0)
            for msg in batch:
                if msg.error():
                    continue
                if started is None:
                    started = time.monotonic()
                while True:
                    try:
                        producer.produce(target, key=msg.key(), value=msg.value())
                        break
                    except BufferError:
                        producer.poll(0.05)
                done += 1
            producer.poll(0)
        producer.flush(30)
    finally:
        consumer.close()
    return count / (time.monotonic() - (started or time.monotonic()))


if __name__ == "__main__":
    from clickpath.infra.logs import configure_logging

    configure_logging("warning", role="bench-passthrough")
    faust_passthrough(Settings(), sys.argv[1], sys.argv[2])
