"""The example stage's registry entry: its topics, and its name where it reads and writes.

In clickpath this is what a new stage adds to clickpath/contracts/topics.py (a `Node` member,
`TopicSpec`s for its own topics, its name among the consumers and producers of the topics it
reads and writes); here the shipped registry is extended for the harness only.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum
from operator import attrgetter

from clickpath.contracts.topics import SPECS, Key, Topic, TopicSpec
from clickpath.streams.runtime import Tick
from tests.unit.devtools.example_stage.records import DepositReminder

STAGE = "reminders"


class ExampleTopic(Enum):
    REMINDERS = "crm.deposit-reminders"
    TICKS = "ticks.deposit-reminders"


_PERSON = Key("brand_id:player_id", attrgetter("person_id"))

REGISTRY: dict[Topic | ExampleTopic, TopicSpec] = {
    **SPECS,
    Topic.CANONICAL: replace(SPECS[Topic.CANONICAL],
                             consumers=(*SPECS[Topic.CANONICAL].consumers, STAGE)),
    Topic.DEAD_LETTER: replace(SPECS[Topic.DEAD_LETTER],
                               producers=(*SPECS[Topic.DEAD_LETTER].producers, STAGE)),
    ExampleTopic.REMINDERS: TopicSpec(
        ExampleTopic.REMINDERS, _PERSON, (DepositReminder,), producers=(STAGE,), consumers=(),
        doc="A reminder per brand account that has not deposited for seven days.",
    ),
    ExampleTopic.TICKS: TopicSpec(
        ExampleTopic.TICKS, Key("brand_id:player_id", attrgetter("key")), (Tick,),
        producers=(), consumers=(STAGE,),
        doc="Time passing for each brand account the stage keeps (a ticker writes it).",
    ),
}
