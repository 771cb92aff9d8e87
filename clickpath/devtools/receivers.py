"""A partner's HTTP endpoint for delivery tests and the delivery benchmark: scripted answers,
every request recorded with its arrival time, and the CPU its request threads spent (the
benchmark's receiver shares the machine with the delivery process it measures)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)  # to compare with event times


# An answer: (status, extra headers); or a number of seconds to hang before answering 200.
Script = Callable[[Received, int], tuple[int, dict[str, str]] | float]


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connection attempts when many clients connect at
    # once, and their SYN retries (1 s, 3 s...) would show up as delivery latency.
    request_queue_size = 256


class ScriptedReceiver:
    def __init__(self, host: str = "127.0.0.1", script: Script | None = None,
                 keep_alive: bool = False) -> None:
        self.keep_alive = keep_alive
        self.script: Script = script or (lambda _r, _n: (200, {}))
        self.received: list[Received] = []
        self.cpu_s = 0.0  # CPU time of the request threads (reading, answering), not of waiting
        self._lock = threading.Lock()
        self._release = threading.Event()  # ends every hang at stop()
        self._server = _Server((host, 0), self._handler())
        self._server.daemon_threads = False
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, name="scripted-receiver")
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if receiver.keep_alive else "HTTP/1.0"

            def handle_one_request(self) -> None:
                started = time.thread_time()  # this thread's CPU only: waiting for a request is free
                super().handle_one_request()
                spent = time.thread_time() - started
                with receiver._lock:
                    receiver.cpu_s += spent

            def do_GET(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                got = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length) if length else b"")
                with receiver._lock:
                    receiver.received.append(got)
                    n = len(receiver.received)
                answer = receiver.script(got, n)
                if isinstance(answer, tuple):
                    status, headers = answer
                else:  # a number: hang that long (or until released), then answer 200
                    receiver._release.wait(answer)
                    status, headers = 200, {}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def ids(self) -> list[str]:
        with self._lock:
            return [r.headers.get("webhook-id", "") for r in self.received]

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
