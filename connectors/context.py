"""What every HTTP door shares: settings, the API key store and the acknowledged producer."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from clickpath.connectors.acked_producer import AckedProducer
from clickpath.connectors.keys import KeyStore
from clickpath.contracts.models import IngressEvent, Record
from clickpath.contracts.topics import Topic
from clickpath.domain.pseudonym import Keyring
from clickpath.infra.pseudonym_keys import keyring
from clickpath.settings import Settings


@dataclass
class IngressContext:
    settings: Settings
    keys: KeyStore
    _producer: AckedProducer | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngressContext:
        return cls(settings=settings, keys=KeyStore(settings.key_store_path))

    @cached_property
    def pseudonym_keys(self) -> Keyring:
        """The doors' identifier keys (rotation included, docs/privacy.md)."""
        return keyring(self.settings)

    async def send(self, events: list[IngressEvent]) -> list[str | None]:
        """Produce `events`; per event None once the broker acknowledged it, else why not
        (the service may run without a broker configured: every event then says so)."""
        if not events:
            return []
        if self._producer is None:  # started with the service (its lifespan), not at build time
            return ["no broker: the ingress producer starts with the service"] * len(events)
        return await self._producer.send(events)

    async def send_record(self, topic: Topic, key: str, record: Record) -> str | None:
        """Produce one record of an admin door (not an ingress event) to `topic`; None once
        the broker acknowledged it, else why not."""
        if self._producer is None:
            return "no broker: the ingress producer starts with the service"
        return await self._producer.send_record(topic, key, record)

    def start(self) -> None:
        if self._producer is None and self.settings.kafka_bootstrap_servers:
            self._producer = AckedProducer(self.settings)

    def stop(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
