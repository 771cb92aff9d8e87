"""`clickpath up`: the embedded broker, the topics and every role under one supervisor, until
Ctrl-C (or SIGTERM) stops it all.

Operators and scripts rely on what this prints and keeps: the banner's `Kafka: host:port` line,
the role names (worker-<n>, sink-clickhouse, sink-postbacks, api, demo-receiver, demo-traffic)
and the state file <data_dir>/up-state.json that `clickpath status` reads.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from clickpath.contracts.models import utcnow
from clickpath.devtools.demo import DEMO_FX_RATES, DEMO_PLANS, demo_affiliates
from clickpath.domain.redact import redact
from clickpath.infra.broker import EmbeddedBroker, free_port, port_in_use
from clickpath.infra.broker_journal_keeper import JournalKeeper
from clickpath.infra.dirlock import DataDirInUse, DataDirLock
from clickpath.infra.kafka import create_topics, wait_for_broker
from clickpath.infra.logs import configure_logging
from clickpath.run.errors import CommandError
from clickpath.run.instances import register, unregister
from clickpath.run.state import (
    UP_RUNNING,
    UP_STOPPED,
    UP_STOPPING,
    RoleState,
    UpState,
    state_path,
    write_state,
)
from clickpath.run.status import StatusPrinter
from clickpath.run.supervisor import CONSOLE_MESSAGES as ROLE_MESSAGES
from clickpath.run.supervisor import Role, Supervisor, fresh_dir
from clickpath.run.up_journal import (
    check_journal,
    embedded_clickhouse,
    restore_journal,
    start_keeper,
    stop_keeper,
)
from clickpath.settings import Settings

log = structlog.get_logger(__name__)

CONSOLE_MESSAGES = {
    **ROLE_MESSAGES,
    "state_file_not_written": "could not write {path} ({error}): `clickpath status` may be stale",
    "instance_not_registered": "could not register in {path} ({error}): commands run in other"
    " directories will not find this `clickpath up`",
}


@dataclass(frozen=True)
class UpOptions:
    demo: bool = False  # also play demo traffic and receive the demo affiliates' postbacks
    rate: float = 50.0  # demo events per second
    status_every: float = 10.0  # seconds between status lines (0: none)


def pipeline_roles(workers: int) -> list[Role]:
    """The pipeline's roles, in start order; stopping goes the other way."""
    roles = [Role(f"worker-{i}", ["worker", "--index", str(i)]) for i in range(workers)]
    roles += [Role("sink-clickhouse", ["sink", "clickhouse"])]
    roles += [Role("sink-postbacks", ["sink", "postbacks"]), Role("api", ["api"])]
    return roles


def demo_roles(receiver_port: int, rate: float) -> list[Role]:
    return [
        Role("demo-receiver", ["demo", "receiver", "--port", str(receiver_port)]),
        Role("demo-traffic", ["demo", "traffic", "--rate", str(rate)]),
    ]


def demo_env(settings: Settings, receiver_url: str) -> dict[str, str]:
    """The demo affiliates, posting back to the demo receiver, and their plans, unless
    affiliates are configured."""
    if settings.affiliates:
        return {}
    affiliates = demo_affiliates(receiver_url)
    money = {} if settings.plans or settings.fx_rates else {
        "CLICKPATH_PLANS": json.dumps(DEMO_PLANS),
        "CLICKPATH_REPORTING_CURRENCY": settings.reporting_currency or "EUR",
        "CLICKPATH_FX_RATES": json.dumps(DEMO_FX_RATES),
    }
    return {
        **money,
        "CLICKPATH_AFFILIATES": json.dumps({k: v.model_dump() for k, v in affiliates.items()}),
        # The demo receiver is on loopback, which the SSRF guard refuses by default.
        "CLICKPATH_EGRESS_ALLOW": json.dumps([*settings.egress_allow, "127.0.0.1/32"]),
    }


def cli_command(executable: str, on_path: str | None, cwd: Path) -> str:
    """How to type `clickpath` in the shell `up` was started from: plain `clickpath` when that
    name on PATH is this installation's script, else the script's path (`.venv/bin/clickpath`
    in a checkout); `python -m clickpath.run.cli` when there is no script. `on_path` is what
    shutil.which("clickpath") found."""
    script = Path(executable).parent / "clickpath"
    if not script.exists():
        return f"{executable} -m clickpath.run.cli"
    if on_path is not None and os.path.samefile(on_path, script):
        return "clickpath"
    try:
        return str(script.relative_to(cwd))
    except ValueError:
        return str(script)


def banner(
    settings: Settings, log_dir: Path, created: list[str], receiver_log: Path | None,
    cli: str | None = None,
) -> str:
    """What `up` prints once the service answers; scripts read the `Kafka:` line. Every
    command in it runs as printed (`cli`: how to type clickpath here)."""
    cli = cli or cli_command(sys.executable, shutil.which("clickpath"), Path.cwd())

    def command(args: str, note: str) -> str:
        return f"{cli} {args:6}  ({note})"

    lines = [
        "clickpath is up.",
        f"  Kafka:        {settings.kafka_bootstrap_servers}"
        + (" (embedded, journaled to the data dir)" if settings.tansu_compat else ""),
        f"  ClickHouse:   {redact(settings.clickhouse_dsn)}",
        f"  Service:      {settings.service_url}  (/healthz, /metrics; HTTP reports need a key)",
        f"  Report:       {command('report', 'in another terminal; --format csv|json')}",
        f"  Links:        {command('links', 'tracking links of every campaign')}",
        f"  Status:       {command('status', 'roles, PIDs; --format json')}",
        f"  Logs:         {log_dir}/<role>.log",
    ]
    if receiver_log:
        lines.append(f"  Postbacks:    {receiver_log}  (demo affiliates' receiver)")
    if created:
        lines.append(f"  Topics made:  {len(created)} ({settings.partitions} partitions each)")
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)


class StateRecorder:
    """Keeps <data_dir>/up-state.json current: `up` itself, where to reach it, every role."""

    def __init__(self, path: Path, settings: Settings, data_dir: Path, roles: list[Role],
                 demo: bool = False) -> None:
        self.path = path
        self.demo = demo
        self.settings = settings
        self.data_dir = data_dir
        self.roles = roles
        self.state = UP_RUNNING
        self.started_at = utcnow().isoformat(timespec="seconds")

    def write(self, state: str | None = None) -> None:
        """Record the roles as they are now (and `up`'s own state, if given); a full disk
        costs the status, never the pipeline."""
        self.state = state or self.state
        recorded = UpState(
            pid=os.getpid(), state=self.state, broker=self.settings.kafka_bootstrap_servers,
            service_url=self.settings.service_url, data_dir=str(self.data_dir),
            started_at=self.started_at, updated_at=utcnow().isoformat(timespec="seconds"),
            roles=tuple(RoleState(r.name, r.proc.pid if r.proc else None, r.state, r.restarts)
                        for r in self.roles),
            broker_compat=self.settings.broker_compat, demo=self.demo,
        )
        try:
            write_state(self.path, recorded)
        except OSError as e:
            log.warning("state_file_not_written", path=str(self.path), error=str(e))
        # The per-user registry lets client commands run in another directory find this `up`.
        instances = self.settings.instances_dir
        try:
            if self.state == UP_STOPPED:
                unregister(instances, self.data_dir, recorded.pid)
            else:
                register(instances, self.data_dir, recorded.pid)
        except OSError as e:
            log.warning("instance_not_registered", path=str(instances), error=str(e))


def run_up(settings: Settings, options: UpOptions) -> None:
    """Run the whole pipeline until Ctrl-C or SIGTERM; raises CommandError if it cannot start."""
    configure_logging(settings.log_level, role="supervisor", messages=CONSOLE_MESSAGES)
    data_dir = settings.data_dir.resolve()
    # Before anything is started or touched: a second `up` here would break the first.
    try:
        lock = DataDirLock(data_dir).acquire()
    except DataDirInUse as e:
        raise CommandError(str(e)) from None
    try:
        _run_locked(settings, options, data_dir)
    finally:
        lock.release()


def _run_locked(settings: Settings, options: UpOptions, data_dir: Path) -> None:
    if port_in_use(settings.http_host, settings.http_port):
        raise CommandError(
            f"{settings.http_host}:{settings.http_port} is already in use (another `clickpath up`?)."
            " Stop it, or set CLICKPATH_HTTP_PORT to another port."
        )
    journal = check_journal(settings, data_dir) if settings.embedded_broker else None
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["CLICKPATH_DATA_DIR"] = str(data_dir)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(fresh_dir(data_dir / "metrics"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = env["PROMETHEUS_MULTIPROC_DIR"]

    broker: EmbeddedBroker | None = None
    keeper: JournalKeeper | None = None
    if journal is not None:
        broker, settings = _start_embedded_broker(settings, env, data_dir, log_dir)
    recorder: StateRecorder | None = None
    try:
        wait_for_broker(settings)
        if broker is not None and journal is not None:
            # Before the topics are made and any role starts: offsets must come out the same.
            held = restore_journal(journal, broker.bootstrap, data_dir,
                                   embedded_clickhouse(settings))
        try:
            created = create_topics(settings)
        except RuntimeError as e:  # a topic with another partition count than the settings'
            raise CommandError(f"{e}. Set CLICKPATH_PARTITIONS to match.") from None
        if broker is not None and journal is not None:
            keeper = start_keeper(journal, broker.bootstrap, held)
        roles, receiver_log = _roles(settings, options, env, log_dir)
        recorder = StateRecorder(state_path(data_dir), settings, data_dir, roles, options.demo)
        supervisor = Supervisor(roles, env, log_dir, on_change=recorder.write)
        _supervise(supervisor, recorder, broker, keeper, options.status_every,
                   banner(settings, log_dir, created, receiver_log))
    finally:
        # Every role has stopped by now (`_supervise` stops them): the journal drains first.
        if keeper is not None:
            stop_keeper(keeper, broker is not None and broker.running)
        if broker is not None:
            broker.stop()
        if recorder is not None:
            recorder.write(UP_STOPPED)
    print("clickpath: stopped.", flush=True)


def _start_embedded_broker(
    settings: Settings, env: dict[str, str], data_dir: Path, log_dir: Path
) -> tuple[EmbeddedBroker, Settings]:
    """Start Tansu and point the roles (`env`) and `up` itself (the settings returned) at it."""
    broker = EmbeddedBroker(log_path=log_dir / "broker.log").start()
    env["CLICKPATH_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    env["CLICKPATH_BROKER_COMPAT"] = "tansu"
    # Local table state from an earlier run may be ahead of the journal (a killed `up`): the
    # tables recover from their changelogs, restored from the journal, instead.
    for stale in data_dir.glob("worker-*"):
        fresh_dir(stale)
    return broker, settings.with_overrides(
        kafka_bootstrap_servers=broker.bootstrap, broker_compat="tansu"
    )


def _roles(
    settings: Settings, options: UpOptions, env: dict[str, str], log_dir: Path
) -> tuple[list[Role], Path | None]:
    """Every role to run, with what they need in `env`; and the demo receiver's log, if any."""
    roles = pipeline_roles(settings.workers)
    if settings.clickhouse_embedded:
        env["CLICKPATH_REPORTS_URL"] = f"http://127.0.0.1:{free_port()}"
        # A secret of this run, so that a page in a browser (DNS rebinding) cannot read the
        # sink's loopback reports: in the roles' environment only, never printed or logged.
        env["CLICKPATH_REPORTS_TOKEN"] = secrets.token_urlsafe(32)
    if not options.demo:
        return roles, None
    receiver_port = free_port()
    env["CLICKPATH_DEMO"] = "true"  # the roles accept the shipped pseudonym key (a demo)
    env.update(demo_env(settings, f"http://127.0.0.1:{receiver_port}"))
    return roles + demo_roles(receiver_port, options.rate), log_dir / "demo-receiver.log"


def _supervise(
    supervisor: Supervisor,
    recorder: StateRecorder,
    broker: EmbeddedBroker | None,
    keeper: JournalKeeper | None,
    status_every: float,
    banner_text: str,
) -> None:
    """Start every role and keep them running until Ctrl-C, SIGTERM, the broker's death or
    the journal's failure; the banner says "up" only once the service's /healthz answers."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    healthz = f"{recorder.settings.service_url}/healthz"
    print(f"clickpath: starting; \"up\" once the service answers at {healthz}", flush=True)
    supervisor.start_all()
    try:
        waiting = HealthWait(healthz, supervisor.log_dir / "api.log")
        status = StatusPrinter(interval_s=status_every)
        while not stop.wait(0.5 if waiting.done else 0.2):
            supervisor.check()
            if broker is not None and not broker.running:
                print("clickpath: the embedded broker died; stopping.", file=sys.stderr)
                break
            if keeper is not None and keeper.failure is not None:
                # A restart could not restore what goes unjournaled: stop rather than drift.
                print(f"clickpath: the broker journal failed ({keeper.failure}); stopping.",
                      file=sys.stderr)
                break
            if waiting.done:
                status.maybe_print()
            elif waiting.answered():
                print(banner_text, flush=True)
                status = StatusPrinter(interval_s=status_every)  # the first line one period later
    finally:
        print("\nclickpath: stopping...", flush=True)
        recorder.write(UP_STOPPING)
        supervisor.stop_all()


class HealthWait:
    """Polls the service's /healthz until it answers 200; says once if that takes long."""

    PATIENCE_S = 60.0

    def __init__(self, url: str, api_log: Path) -> None:
        self.url, self.api_log = url, api_log
        self.done = False
        self.since = time.monotonic()
        self.warned = False

    def answered(self) -> bool:
        try:
            self.done = httpx.get(self.url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            self.done = False
        if not self.done and not self.warned and time.monotonic() - self.since > self.PATIENCE_S:
            self.warned = True
            print(f"clickpath: {self.url} has not answered for {self.PATIENCE_S:.0f} s; still"
                  f" waiting (see {self.api_log})", flush=True)
        return self.done
