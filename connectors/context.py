"""What every HTTP door shares: settings, the API key store and the acknowledged producer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import cached_property

from clickpath.connectors.acked_producer import AckedProducer
from clickpath.connectors.keys import KeyStore
from clickpath.contracts.models import IngressEvent, Record
from clickpath.contracts.topics import Topic
from clickpath.domain.pseudonym import Keyring
from clickpath.infra.person_keys import PersonKeys
from clickpath.infra.pseudonym_keys import keyring
from clickpath.infra.sealed_events import carries_personal, seal_events
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
    def person_keys(self) -> PersonKeys:
        """Each player's own key, that the doors seal personal fields with (docs/privacy.md)."""
        return PersonKeys.from_settings(self.settings)

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
        if carries_personal(events):  # the key store's file: off the event loop
            events = await asyncio.to_thread(seal_events, events, self.person_keys)
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
