"""What every HTTP door shares: settings, the API key store and the acknowledged producer."""

from __future__ import annotations

from dataclasses import dataclass, field

from clickpath.settings import Settings
from connectors.acked_producer import AckedProducer
from connectors.keys import KeyStore


@dataclass
class IngressContext:
    settings: Settings
    keys: KeyStore
    _producer: AckedProducer | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngressContext:
        return cls(settings=settings, keys=KeyStore(settings.key_store_path))

    @property
    def pseudonym_key(self) -> bytes:
        return self.settings.pseudonym_key.get_secret_value().encode()

    @property
    def producer(self) -> AckedProducer:
        """Started with the service (its lifespan), so building the app needs no broker."""
        if self._producer is None:
            raise RuntimeError("the ingress producer starts with the service")
        return self._producer

    def start(self) -> None:
        if self._producer is None and self.settings.kafka_bootstrap_servers:
            self._producer = AckedProducer(self.settings)

    def stop(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
