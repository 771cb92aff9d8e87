"""What the delivery engine needs from the broker client.

confluent-kafka's Producer and Consumer have these methods; the unit tests pass small fakes
that record what was produced and committed, so that the engine's decisions are checked
without a broker.
"""

from __future__ import annotations

from typing import Any, Protocol


class Producer(Protocol):
    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> None: ...

    def flush(self, timeout: float = ...) -> int: ...


class Consumer(Protocol):
    def subscribe(self, topics: list[str], on_assign: Any = ..., on_revoke: Any = ...) -> None: ...

    def consume(self, num_messages: int = ..., timeout: float = ...) -> list[Any]: ...

    def commit(self, *args: Any, **kwargs: Any) -> Any: ...  # offsets=[TopicPartition], asynchronous

    def close(self) -> None: ...
