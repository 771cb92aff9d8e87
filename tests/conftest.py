"""Session-wide fixtures: the real embedded broker on a free loopback port."""

from __future__ import annotations

import pytest

from clickpath.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker():
    with EmbeddedBroker() as b:
        yield b
