"""Where endpoints are kept: configuration plus `<data_dir>/endpoints.json`.

Endpoints come from configuration (`endpoints`, and each affiliate's legacy `postback_url`) and
from `clickpath postbacks add|disable` / the admin API, kept in `<data_dir>/endpoints.json`,
which the delivery process re-reads when it changes, so a change takes effect on the running
service. The file wins over configuration for the same id (that is how a configured one is
disabled).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from pydantic import ValidationError

from clickpath.contracts.models import utcnow
from clickpath.domain.addresses import destination_refusal
from clickpath.domain.endpoints import Endpoint, legacy_endpoints, validation_message
from clickpath.domain.postback_template import render_template
from clickpath.infra.jsonstore import WatchedJsonFile
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

def resolve_host(host: str) -> list[str]:
    """Every address the system resolves `host` to; OSError when it does not resolve."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def check_destination(
    endpoint: Endpoint, allow: Sequence[str],
    resolve: Callable[[str], Sequence[str]] = resolve_host,
) -> None:
    """Raise ValueError (naming the URL and why) when an endpoint being configured points at a
    forbidden address: a literal one, or a name that resolves to one now. A name that does not
    resolve yet is accepted; the send-time guard checks (and pins) again."""
    reason = destination_refusal(render_template(endpoint.url, {}), allow, resolve)
    if reason is not None:
        raise ValueError(
            f"url: deliveries may not go to {reason} (SSRF guard; an operator may allow a "
            "network with CLICKPATH_EGRESS_ALLOW)"
        )


class EndpointStore:
    def __init__(
        self, path: Path, configured: Sequence[Endpoint] = (), recheck_s: float = 0.0
    ) -> None:
        self.path = path
        self.configured = {e.endpoint_id: e for e in configured}
        self._file = WatchedJsonFile(path, empty={}, recheck_s=recheck_s)
        self._current: dict[str, Endpoint] = dict(self.configured)
        # Entries of the file that no longer validate (stored before a check was added, or
        # edited by hand): left out, with the reason, so their jobs end naming it.
        self.invalid: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, recheck_s: float = 0.0) -> EndpointStore:
        """Configured endpoints (each affiliate's postback_url too) plus the endpoints file."""
        configured = [*legacy_endpoints(settings.affiliates), *settings.endpoints]
        return cls(settings.endpoints_file, configured, recheck_s=recheck_s)

    def current(self) -> dict[str, Endpoint]:
        data = self._file.changed()
        if data is not None:
            merged = dict(self.configured)
            invalid: dict[str, str] = {}
            for key, value in data.items():
                try:
                    merged[key] = Endpoint.model_validate(value)
                except ValidationError as e:
                    invalid[key] = validation_message(e)
                    merged.pop(key, None)  # not the configured one it was meant to replace
            for key in sorted(invalid.keys() - self.invalid.keys()):
                log.error("endpoint_invalid", endpoint_id=key, path=str(self.path), error=invalid[key])
            self._current, self.invalid = merged, invalid
        return self._current

    def for_postback(self, affiliate_id: str, event: str) -> list[Endpoint]:
        return [e for e in self.current().values()
                if e.kind == "postback" and e.affiliate_id == affiliate_id and e.wants(event)]

    def for_webhook(self, event: str, brand_id: str | None, affiliate_id: str | None) -> list[Endpoint]:
        """`brand_id` None: an event of no one brand (a statement) goes only to endpoints of
        every brand."""
        return [e for e in self.current().values()
                if e.kind == "webhook" and e.wants(event)
                and e.brand_id in (None, brand_id)
                and (e.affiliate_id is None or e.affiliate_id == affiliate_id)]

    def put(self, endpoint: Endpoint) -> Endpoint:
        with self._file.edit() as data:
            data[endpoint.endpoint_id] = endpoint.model_dump(mode="json")
        return endpoint

    def disable(self, endpoint_id: str, reason: str) -> Endpoint:
        endpoint = self.current().get(endpoint_id)
        if endpoint is None:
            raise LookupError(f"no endpoint {endpoint_id!r}")
        changed = endpoint.model_copy(
            update={"enabled": False, "disabled_reason": reason, "disabled_at": utcnow()}
        )
        return self.put(changed)

    def enable(self, endpoint_id: str) -> Endpoint:
        endpoint = self.current().get(endpoint_id)
        if endpoint is None:
            raise LookupError(f"no endpoint {endpoint_id!r}")
        return self.put(endpoint.model_copy(
            update={"enabled": True, "disabled_reason": None, "disabled_at": None}
        ))
