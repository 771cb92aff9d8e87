"""On a ClickHouse server an analyst query has an id, and a call that fails without an answer
(a timeout, a dropped connection) kills what the server still runs and waits until it is gone,
so that the caller's report slot is not freed while the server works on (issue 21 item 18)."""

from __future__ import annotations

from typing import Any

import pytest

from clickpath.infra import analyst_run
from clickpath.infra.clickhouse import ClickHouseError
from clickpath.settings import Settings


class Result:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.result_rows = rows


class FakeServer:
    """Every client of one fake server: the analyst's stream fails; KILL takes two polls."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any] | None]] = []
        self.settings: dict[str, Any] = {}
        self.streamed: list[dict[str, Any] | None] = []
        self.polls = 0

    def client(self, _settings: Settings) -> FakeServer:
        return self

    def set_client_setting(self, name: str, value: Any) -> None:
        self.settings[name] = value

    def query_row_block_stream(self, sql: str, parameters: Any = None, settings: Any = None) -> Any:
        self.streamed.append(settings)
        raise OSError("read timed out talking to http://u:pw@ch:8123")

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> None:
        self.commands.append((sql, parameters))

    def query(self, sql: str, parameters: Any = None) -> Result:
        self.polls += 1
        return Result([(1 if self.polls < 2 else 0,)])

    def close(self) -> None:
        pass


def test_a_failed_server_query_is_killed_by_its_id_and_waited_for(tmp_path, monkeypatch) -> None:
    server = FakeServer()
    monkeypatch.setattr(analyst_run, "connect", server.client)
    monkeypatch.setattr(analyst_run.time, "sleep", lambda _s: None)
    settings = Settings(data_dir=tmp_path, pseudonym_key="k", clickhouse_url="http://ch:8123")
    with pytest.raises(ClickHouseError):
        analyst_run.answer(settings, "SELECT count() FROM players", "brand-a")
    query_id = server.streamed[0]["query_id"]  # type: ignore[index]
    assert query_id.startswith("clickpath-analyst-")
    assert server.commands == [
        ("KILL QUERY WHERE query_id = {query_id:String} ASYNC", {"query_id": query_id})
    ]
    assert server.polls == 2  # until system.processes no longer lists it
    assert server.settings["readonly"] == 1
    assert server.settings["cancel_http_readonly_queries_on_client_close"] == 1
