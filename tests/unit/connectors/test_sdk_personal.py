"""The operator SDK refuses raw personal data as the HTTP doors do (issue 21, item 22)."""

from __future__ import annotations

import pytest

from clickpath.connectors.sdk import EventProducer, PersonalData
from clickpath.contracts.models import Deposit, utcnow


def test_the_sdk_refuses_an_event_with_an_address_in_its_attributes() -> None:
    producer = object.__new__(EventProducer)  # the check comes before any Kafka work
    event = Deposit(event_id="d-1", occurred_at=utcnow(), brand_id="b", source="sdk", player_id="p-1",
                    transaction_id="tx-1", amount="10.00", currency="EUR",
                    attributes={"email": "raw.person@example.com"})
    with pytest.raises(PersonalData) as refused:
        producer.send(event)
    assert refused.value.field == "attributes.email"
