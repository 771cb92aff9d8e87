"""`up` gives the sink's loopback report endpoint a secret of the run (issue 21 item 26): the
service and the sink get it through their environment; it differs each run and is masked in
the settings' repr."""

from __future__ import annotations

from clickpath.run.up import UpOptions, _roles
from clickpath.settings import Settings


def test_each_run_gets_its_own_reports_token(tmp_path) -> None:
    runs = []
    for _ in range(2):
        env: dict[str, str] = {}
        _roles(Settings(data_dir=tmp_path), UpOptions(demo=False), env, tmp_path)
        runs.append(env["CLICKPATH_REPORTS_TOKEN"])
        assert env["CLICKPATH_REPORTS_URL"].startswith("http://127.0.0.1:")
    assert runs[0] != runs[1] and all(len(token) >= 32 for token in runs)
    role = Settings(reports_token=runs[0])  # as a role reads CLICKPATH_REPORTS_TOKEN
    assert role.reports_token is not None and role.reports_token.get_secret_value() == runs[0]
    assert runs[0] not in repr(role)
