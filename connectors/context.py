"""What every HTTP door shares: settings, the API key store, the audit trail and the
acknowledged producer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from clickpath.connectors.acked_producer import AckedProducer
from clickpath.connectors.keys import ApiKey, KeyStore
from clickpath.contracts.models import IngressEvent, Record
from clickpath.contracts.topics import Topic
from clickpath.domain.audit.chain import AuditEntry
from clickpath.domain.pseudonym import Keyring
from clickpath.domain.tracking import visitor_ip
from clickpath.infra.audit import AuditTrail, AuditWriteError
from clickpath.infra.person_keys import PersonKeys
from clickpath.infra.pseudonym_keys import keyring
from clickpath.infra.sealed_events import carries_personal, seal_events
from clickpath.settings import Settings

AUDIT_FAILED = "the change could not be recorded in the audit trail; the operator's log says why"


@dataclass
class IngressContext:
    settings: Settings
    keys: KeyStore
    audit: AuditTrail
    _producer: AckedProducer | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> IngressContext:
        return cls(settings=settings, keys=KeyStore(settings.key_store_path),
                   audit=AuditTrail.from_settings(settings))

    @cached_property
    def person_keys(self) -> PersonKeys:
        """Each player's own key, that the doors seal personal fields with (docs/privacy.md)."""
        return PersonKeys.from_settings(self.settings)

    @cached_property
    def pseudonym_keys(self) -> Keyring:
        """The doors' identifier keys (rotation included, docs/privacy.md)."""
        return keyring(self.settings)

    def origin(self, request: Request) -> str:
        """Where the request came from, as the audit trail records it: the client's address
        (through the trusted proxies, as the request guard sees it), else `unknown`."""
        header = self.settings.tracker_client_ip_header
        forwarded = request.headers.get(header) if header else None
        peer = request.client.host if request.client else None
        return visitor_ip(peer, forwarded, self.settings.tracker_proxy_hops,
                          self.settings.trusted_proxy_networks) or "unknown"

    def record(self, request: Request, key: ApiKey, *, kind: str, subject: str,
               detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """Record a change or read of this request in the audit trail, as `key` from the
        client's address; a 500 (without the reason, which goes to the log) when it cannot be
        written, so the request fails rather than going unrecorded. From a sync route; an
        async one awaits `arecord`."""
        try:
            return self.audit.record(actor=key.key_id, kind=kind, subject=subject,
                                     detail=detail or {}, origin=self.origin(request))
        except AuditWriteError:
            raise HTTPException(500, AUDIT_FAILED) from None

    async def arecord(self, request: Request, key: ApiKey, *, kind: str, subject: str,
                      detail: Mapping[str, Any] | None = None) -> AuditEntry:
        """`record` off the event loop (it locks and fsyncs a file)."""
        return await run_in_threadpool(self.record, request, key, kind=kind, subject=subject,
                                       detail=detail)

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
