"""A real HTTP server on a loopback port for emulators: handlers are plain functions."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Request", "Reply", "EmulatorServer"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() when received

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


Handler = Callable[[Request], Reply]


class EmulatorServer:
    """Routes ``(method, path)`` to a handler; records every request it saw."""

    def __init__(
        self, routes: dict[tuple[str, str], Handler], fallback: Handler | None = None
    ) -> None:
        self.routes = routes
        self.fallback = fallback
        self.requests: list[Request] = []
        self.record_limit: int | None = None  # keep only the last N requests (long runs)
        # With ``serialized``, handlers run under ``lock``, and whoever changes the emulated
        # data while it serves (the demo's live activity) takes the lock too.
        self.lock = threading.RLock()
        self.serialized = False
        # Faults for the next requests, in order: "429", "500", "503", "truncate" (a 200
        # whose JSON body is cut short), "slow:<seconds>" (answer only after that long),
        # "drop" (close the connection without an answer).
        self.faults: list[str] = []
        self._faults_lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            # headers and body go out in two writes; without this, delayed ACKs add ~200 ms
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    dict(self.headers.items()),
                    self.rfile.read(length),
                    time.monotonic(),
                )
                server.requests.append(request)
                if server.record_limit is not None:
                    del server.requests[: -server.record_limit]
                with server._faults_lock:
                    fault = server.faults.pop(0) if server.faults else None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault and fault.startswith("slow:"):
                    time.sleep(float(fault.partition(":")[2]))
                    fault = None
                if fault in ("429", "500", "503"):
                    self._send(
                        Reply(int(fault), {"error": f"injected {fault}"}, {"Retry-After": "1"})
                    )
                    return
                handler = server.routes.get((self.command, parts.path))
                if handler is None:
                    handler = server.fallback or (lambda r: Reply(404, {"error": "no route"}))
                try:
                    with server.lock if server.serialized else nullcontext():
                        reply = handler(request)
                except Exception as exc:  # an emulator bug answers 500, as a server would
                    reply = Reply(500, {"error": f"emulator failed: {exc!r}"})
                if fault == "truncate" and reply.status == 200:
                    whole = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                    reply = Reply(200, raw=whole[: max(1, len(whole) // 2)])
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for key, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> EmulatorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
