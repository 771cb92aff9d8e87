"""The operator SDK: produce clickpath events from your own Python code.

`EventProducer` validates each event against its model, encodes it in the Confluent wire
format and keys it as the pipeline expects. It is `clickpath.infra.producer`'s (the stream
agents send their outputs through the same class), with one check more at this door: an event
holding a raw e-mail, phone or IP (in `attributes` or any other text field) is refused with
`PersonalData` naming the field, as the HTTP doors refuse it (clickpath/domain/personal.py).
Pseudonymise them first (`clickpath.domain.pseudonym.keyed_hash`, with the pipeline's key;
during a key rotation `Keyring.hashes` with `clickpath.infra.pseudonym_keys.keyring(settings)`
gives the current version's and, in the grace period, the previous one's, for `email_hash` and
`previous_email_hash`: docs/privacy.md#pseudonym-key-rotation).
"""

from __future__ import annotations

from clickpath.contracts.models import IngressEvent
from clickpath.domain.personal import PersonalData, refuse_personal
from clickpath.infra.producer import EventProducer as _PipelineProducer
from clickpath.infra.producer import NotAcknowledged

__all__ = ["EventProducer", "NotAcknowledged", "PersonalData"]


class EventProducer(_PipelineProducer):
    """The pipeline's producer, refusing events that carry raw personal data."""

    def send(self, event: IngressEvent, stamp_received: bool = True) -> None:
        refuse_personal(event.model_dump())
        super().send(event, stamp_received)
