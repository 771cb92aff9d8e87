"""Which running `clickpath up` a client command (report, sql, keys, import ...) talks to.

`up` writes its address into <data_dir>/up-state.json; a command run in the same directory
finds it there. Run from anywhere else, `./.clickpath` does not exist, so `up` also registers
itself in a per-user directory (`Settings.instances_dir`): one small file per running
instance naming its data dir, removed when it stops and ignored once its pid is gone. The
choice (`choose`) is pure; reading the files and the processes is the few functions below it.

A client command never creates a data directory by looking for one: finding nothing leaves
the settings as they were, and the command says that `clickpath up` is not running.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from clickpath.infra.jsonstore import write_json_atomic
from clickpath.run.errors import CommandError
from clickpath.run.state import UP_STOPPED, UpState, pid_alive, read_state, state_path
from clickpath.settings import Settings


@dataclass(frozen=True)
class Running:
    """A live `up`: what its state file says."""

    state: UpState

    @property
    def data_dir(self) -> Path:
        return Path(self.state.data_dir)

    @property
    def port(self) -> int | None:
        return urlsplit(self.state.service_url).port


class Ambiguous(CommandError):
    """Several instances run and nothing says which one is meant."""


def choose(
    here: Running | None,
    registered: Sequence[Running],
    *,
    dir_given: bool,
    port: int | None = None,
) -> Running | None:
    """The instance a command uses: the one in its data dir when that was named
    (CLICKPATH_DATA_DIR) or runs there; else the only registered one (with CLICKPATH_HTTP_PORT
    set, the only one on that port). Several: Ambiguous. None: nothing runs."""
    if dir_given or here is not None:
        return here
    candidates = [r for r in registered if port is None or r.port == port]
    if len(candidates) > 1:
        listed = ", ".join(f"{r.data_dir} (pid {r.state.pid}, {r.state.service_url})"
                           for r in candidates)
        raise Ambiguous(
            f"{len(candidates)} `clickpath up` instances are running and none in this"
            f" directory: {listed}. Set CLICKPATH_DATA_DIR to the one you mean."
        )
    return candidates[0] if candidates else None


def pointed_at(settings: Settings, running: Running) -> Settings:
    """`settings` aimed at a running instance: its data dir, service and broker, unless the
    user set those explicitly (what is set wins); a demo's `demo` too, so that its shipped
    audit key records this command's changes (run/guards.py)."""
    given = settings.model_fields_set
    overrides: dict[str, object] = {"data_dir": running.data_dir}
    if running.state.demo and "demo" not in given:
        overrides["demo"] = True
    service = urlsplit(running.state.service_url)
    if "http_port" not in given and service.port is not None:
        overrides["http_port"] = service.port
    if "http_host" not in given and service.hostname:
        overrides["http_host"] = service.hostname
    if "kafka_bootstrap_servers" not in given and running.state.broker:
        overrides["kafka_bootstrap_servers"] = running.state.broker
        if running.state.broker_compat and "broker_compat" not in given:
            overrides["broker_compat"] = running.state.broker_compat
    return settings.with_overrides(**overrides)


# --- I/O: the registry, the state files and the processes ------------------------------------


def _entry_path(instances_dir: Path, data_dir: Path) -> Path:
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return instances_dir / f"{digest}.json"


def register(instances_dir: Path, data_dir: Path, pid: int) -> None:
    """Record that `up` (pid) runs on `data_dir`; atomically, readable by this user only."""
    instances_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = _entry_path(instances_dir, data_dir)
    write_json_atomic(path, {"pid": pid, "data_dir": str(data_dir)}, mode=0o600)


def unregister(instances_dir: Path, data_dir: Path, pid: int) -> None:
    """Remove the entry if it is still this `up`'s (a later `up` may have taken the dir)."""
    path = _entry_path(instances_dir, data_dir)
    try:
        if json.loads(path.read_text()).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def running_in(data_dir: Path, alive: Callable[[int], bool] = pid_alive) -> Running | None:
    """The live `up` whose state file is under `data_dir`, if any (reads only)."""
    try:
        state = read_state(state_path(data_dir))
    except (OSError, ValueError):
        return None
    if state is None or state.state == UP_STOPPED or not alive(state.pid):
        return None
    return Running(state)


def registered(instances_dir: Path, alive: Callable[[int], bool] = pid_alive) -> list[Running]:
    """Every registered `up` that still runs; entries of dead ones are removed on the way."""
    found: dict[str, Running] = {}
    try:
        entries = sorted(instances_dir.glob("*.json"))
    except OSError:
        return []
    for entry in entries:
        try:
            data = json.loads(entry.read_text())
            pid, data_dir = int(data["pid"]), Path(data["data_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        running = running_in(data_dir, alive) if alive(pid) else None
        if running is None or running.state.pid != pid:
            entry.unlink(missing_ok=True)  # that `up` is gone (or another owns the dir now)
            continue
        found[str(data_dir)] = running
    return list(found.values())


def use_running_up(settings: Settings, *, quiet: bool = False) -> Settings:
    """The settings a client command should use: aimed at the running `up` it finds, saying
    on stderr which data dir that is when it is not the one the settings named."""
    import sys

    given = settings.model_fields_set
    named = settings.data_dir.resolve()
    here = running_in(named)
    others = [] if ("data_dir" in given or here) else registered(settings.instances_dir)
    port = settings.http_port if "http_port" in given else None
    chosen = choose(here, others, dir_given="data_dir" in given, port=port)
    if chosen is None:
        return settings
    if chosen.data_dir != named and not quiet:
        print(f"clickpath: using the `clickpath up` running on {chosen.data_dir}"
              f" (pid {chosen.state.pid}, {chosen.state.service_url})", file=sys.stderr)
    return pointed_at(settings, chosen)
