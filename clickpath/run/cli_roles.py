"""The arguments of `clickpath up`, `status` and the roles `up` runs (worker, sink, api, demo;
hidden from `clickpath --help`, listed in cli.HIDDEN). Their functions: commands_roles."""

from __future__ import annotations

from typing import Any

from clickpath.run.arguments import add_command
from clickpath.run.commands_roles import cmd_api, cmd_demo, cmd_sink, cmd_status, cmd_up, cmd_worker

# Of these, the commands that talk to a running `up` (cli.CLIENT_COMMANDS).
CLIENT_COMMANDS = frozenset({"status"})


def add_role_commands(sub: Any) -> None:
    up = add_command(sub, "up", "run the whole pipeline (embedded broker and ClickHouse by default)",
                     "Runs the broker (embedded unless CLICKPATH_KAFKA_BOOTSTRAP_SERVERS is set),"
                     " the topics, the stream worker, the sinks and the HTTP service until Ctrl-C;"
                     " prints where everything is once the service answers.")
    up.add_argument("--demo", action="store_true", help="also play demo traffic and receive postbacks")
    up.add_argument("--rate", type=float, default=50.0, help="demo events per second")
    up.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")
    up.set_defaults(func=cmd_up)

    status = add_command(sub, "status", "is `clickpath up` running: broker, service, each role's PID"
                         " and state (exit 1 if not)",
                         "Shows the running `clickpath up`: its broker, service URL and every role's"
                         " PID and state. Exits 1 when it does not run.")
    status.add_argument("--format", choices=["table", "json"], default="table")
    status.set_defaults(func=cmd_status)

    worker = add_command(sub, "worker", None, "Internal: one Faust stream worker (a role of `up`).")
    worker.add_argument("--index", type=int, default=0, help="distinguishes workers' local state")
    worker.set_defaults(func=cmd_worker)

    sink = add_command(sub, "sink", None, "Internal: one sink (a role of `up`).")
    sink.add_argument("kind", choices=["clickhouse", "postbacks"])
    sink.set_defaults(func=cmd_sink)

    api = add_command(sub, "api", None, "Internal: the HTTP service (a role of `up`).")
    api.set_defaults(func=cmd_api)

    demo = add_command(sub, "demo", None, "Internal: demo traffic or the demo postback receiver.")
    demo.add_argument("kind", choices=["traffic", "receiver"])
    demo.add_argument("--rate", type=float, default=50.0)
    demo.add_argument("--port", type=int, default=8088)
    demo.set_defaults(func=cmd_demo)
