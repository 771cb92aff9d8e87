"""ClickHouse errors never carry the DSN's password (issue 13, High 4)."""

from __future__ import annotations

import pytest

from clickpath.infra.broker import free_port
from clickpath.infra.clickhouse import ClickHouseError, connect
from clickpath.settings import Settings


def test_clickhouse_error_messages_are_redacted() -> None:
    error = ClickHouseError("query failed at http://u:s3cret@h:8123/?password=s3cret")
    assert "s3cret" not in str(error)


def test_unreachable_clickhouse_error_does_not_name_the_password(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path,
                        clickhouse_url=f"http://clickpath:s3cret@127.0.0.1:{free_port()}")
    with pytest.raises(ClickHouseError) as caught:
        connect(settings)
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
