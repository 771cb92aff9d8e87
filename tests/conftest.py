"""Session-wide fixtures and markers.

Tests under tests/integration are marked `integration` by their directory (run them alone with
`-m integration`, skip them with `-m "not integration"`); they share one real embedded broker on
a free loopback port.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clickpath.infra.broker import EmbeddedBroker

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker():
    with EmbeddedBroker() as b:
        yield b
