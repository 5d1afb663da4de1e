"""Small HTTP(S) servers on loopback addresses that answer like Rocketlane, then misbehave.

Each server records every request it received (path and headers), so a test can say where
the API key arrived. By default a server forwards to an upstream emulator and relays its
answer unchanged: an honest Rocketlane. A test gives it a `behave` function for the one way it
misbehaves; returning False from it falls back to the honest answer.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import requests
from typing_extensions import Self, override

if TYPE_CHECKING:
    from collections.abc import Callable

    import trustme


@dataclass
class Seen:
    """One request a server received."""

    method: str
    path: str
    headers: dict[str, str]


class Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    @override
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(Seen("GET", self.path, dict(self.headers.items())))
        behave = self.server.behave
        if behave is not None and behave(self) is not False:
            return
        self.forward()

    def forward(self) -> None:
        upstream = self.server.upstream
        if upstream is None:
            self.reply(404, {"errors": [{"errorMessage": "no such list"}]})
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() in {"api-key", "user-agent"}}
        answer = requests.get(upstream + self.path, headers=headers, timeout=30)
        body = answer.content
        self.send_response(answer.status_code)
        for name in ("Content-Type", "Date", "X-Retry-After", "Retry-After"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class HostileServer(ThreadingHTTPServer):
    """A server on `host`, on a free port, in a thread of its own."""

    daemon_threads = True

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        upstream: str | None = None,
        behave: Callable[[Handler], bool | None] | None = None,
        tls: trustme.LeafCert | None = None,
    ) -> None:
        super().__init__((host, 0), Handler)
        self.host = host
        self.upstream = upstream
        self.behave = behave
        self.seen: list[Seen] = []
        #: Connections accepted (a TLS handshake that fails leaves no request in `seen`).
        self.connections = 0
        self.scheme = "https" if tls else "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.configure_cert(context)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @override
    def get_request(self) -> tuple[Any, Any]:
        self.connections += 1
        return super().get_request()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/1.0"

    def keys_received(self) -> list[str]:
        return [s.headers["api-key"] for s in self.seen if "api-key" in s.headers]

    @override
    def __enter__(self) -> Self:
        self._thread.start()
        return self

    @override
    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


@dataclass
class Servers:
    """Every server a test started, to ask each where the key went."""

    started: list[HostileServer] = field(default_factory=list)

    def add(self, server: HostileServer) -> HostileServer:
        self.started.append(server.__enter__())
        return server

    def close(self) -> None:
        for server in self.started:
            server.__exit__()
