"""What a run does with each record it reads, before any sending: validate it as the event API
would (with `--brand` applied like an operator key's); why not goes to the rejects report
(connectors/importer/rejects.py).
Shared by the real run and the dry run, so a dry run rejects exactly what a real one would.
"""

from __future__ import annotations

from clickpath.connectors.importer.files import SourceRecord
from clickpath.connectors.importer.options import ImportOptions
from clickpath.connectors.ingress import Rejection, parse_event
from clickpath.contracts.models import IngressEvent
from clickpath.infra.pseudonym_keys import keyring
from clickpath.settings import Settings


class Validator:
    """SourceRecord -> event, or the Rejection, with `--brand` applied like an operator key's."""

    def __init__(self, settings: Settings, options: ImportOptions) -> None:
        self._key = keyring(settings)
        self._brand = options.brand
        self._source = options.source
        self._window = settings.event_time_window
        self._mappings = settings.source_mappings  # --source picks one (docs/mappings.md)

    def event(self, record: SourceRecord) -> IngressEvent:
        if record.rejection is not None:
            raise record.rejection
        data = record.data
        # Checked here rather than left to parse_event, whose reason speaks of an API key.
        if (
            self._brand is not None
            and isinstance(data, dict)
            and data.get("brand_id") not in (None, self._brand)
        ):
            raise Rejection(
                "brand_id", f"is {data['brand_id']!r}, but this import is for --brand {self._brand!r}"
            )
        return parse_event(data, pseudonym_key=self._key, brand_id=self._brand, source=self._source,
                           window=self._window, mappings=self._mappings)
