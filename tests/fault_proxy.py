"""A loopback HTTP proxy that injects faults in front of a real server (tests only).

Each incoming request takes the next action from ``plan`` (then ``ok`` forever):
``ok`` forwards; ``429`` answers Too Many Requests with ``Retry-After``; ``500`` answers a
server error; ``slow`` waits ``slow_seconds`` (past the client's timeout) then forwards,
unless the client has given up by then; ``cut`` closes the connection without answering;
``hang`` reads the request and never answers (until the client hangs up or the proxy
stops); ``trickle`` sends the headers, then one byte of body every ``trickle_interval``
seconds for ``slow_seconds``, then hangs up (a per-read timeout never fires on it).

Actions that never forward (everything but ``ok`` and ``slow``) need no real upstream:
``FaultProxy("http://127.0.0.1:9", ["hang"] * 3)`` is a server that accepts and never answers.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        plan: list[str] | None = None,
        *,
        retry_after: float = 0.2,
        slow_seconds: float = 3.0,
        trickle_interval: float = 0.1,
    ):
        self.upstream = upstream.rstrip("/")
        self.plan = list(plan or [])
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.trickle_interval = trickle_interval
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._handle(b"")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._handle(body)

            def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, body: bytes):
                action = proxy.next_action()
                if action == "429":
                    return self._reply(
                        429, b'{"error":"rate limited"}', {"Retry-After": str(proxy.retry_after)}
                    )
                if action == "500":
                    return self._reply(500, b'{"error":"boom"}')
                if action == "cut":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                if action == "hang":
                    proxy.wait_for_hangup(self.connection, None)
                    self.close_connection = True
                    return None
                if action == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    self.wfile.flush()
                    self.close_connection = True
                    until = time.monotonic() + proxy.slow_seconds
                    while time.monotonic() < until and not proxy.wait_for_hangup(
                        self.connection, proxy.trickle_interval
                    ):
                        try:
                            self.wfile.write(b" ")
                            self.wfile.flush()
                        except OSError:
                            return None
                    return None
                if action == "slow" and proxy.wait_for_hangup(self.connection, proxy.slow_seconds):
                    self.close_connection = True
                    return None  # the client gave up: do not load the upstream
                r = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=120,
                )
                return self._reply(r.status_code, r.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_action(self) -> str:
        with self._lock:
            action = self.plan.pop(0) if self.plan else "ok"
            self.seen.append(action)
            return action

    def wait_for_hangup(self, conn: socket.socket, seconds: float | None) -> bool:
        """Wait up to ``seconds`` (None: until the proxy stops); True if the client hung up."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stop.is_set():
            step = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if step <= 0:
                return False
            try:
                readable, _, _ = select.select([conn], [], [], step)
                if readable:
                    if not conn.recv(1, socket.MSG_PEEK):
                        return True
                    time.sleep(step)  # more request bytes, not a hang-up
            except OSError:
                return True
        return True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
