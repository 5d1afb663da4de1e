"""HTTP front end and the :class:`Emulator` facade used by tests, demo and benchmarks."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from typing_extensions import override

from .data import Record, Scale
from .drift import DriftedValue, apply_drift
from .faults import Faults, FaultState, retry_after_headers
from .hostile import KINDS as HOSTILE_KINDS
from .hostile import HostileValue, apply_hostile, dumps
from .live import SHAPES
from .query import ApiError, unknown_params
from .resources import RESOURCES, route, url_path
from .store import Page, Store
from .workspace import generate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType

API_PREFIX = "/api/1.0/"
_UNAUTHORIZED = ApiError(401, "NOT_AUTHORIZED", "Not Authorized: User not authorized")
_RATE_LIMITED = ApiError(429, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded")


@dataclass(frozen=True)
class RequestLogEntry:
    """One request as the emulator saw and answered it."""

    method: str
    path: str
    resource: str | None  # None for unknown paths
    params: dict[str, str]
    status: int
    request_id: str
    time: float  # the emulator's clock (epoch seconds) when the request arrived
    fault: str | None = None  # "rate_limit", "error", "truncate" or None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json(value: object) -> bytes:
    # Real UTF-8 rather than \\u escapes, so clients' decoding is exercised (hostile.py).
    return dumps(value)


def _parse_params(query_string: str) -> dict[str, str]:
    """Last value wins, except includeFields which may also be repeated."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key == "includeFields" and params.get(key):
            params[key] = f"{params[key]},{value}"
        else:
            params[key] = value
    return params


class Emulator:
    """A Rocketlane REST API 1.0 emulator serving generated data on a local port."""

    def __init__(  # noqa: PLR0913 - the constructor is the configuration surface
        self,
        seed: int = 1,
        scale: Scale | None = None,
        *,
        api_key: str = "test-key",
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock_offset_s: float = 0.0,
        shapes: str = "live",
        drift: bool = False,
        hostile: bool | Iterable[str] = False,
        unavailable: dict[str, int] | None = None,
    ) -> None:
        if shapes not in SHAPES:
            message = f"unknown shapes {shapes!r}; expected one of {', '.join(SHAPES)}"
            raise ValueError(message)
        self.seed = seed
        #: "live": what the live API sends (spec/live-deviations.md); "spec": the spec's shapes.
        self.shapes = shapes
        # Rocketlane's clock, which need not agree with the client's: updatedAt stamps,
        # Date headers and X-Retry-After all come from it.
        self.clock_offset_s = clock_offset_s
        #: Called as hook(resource, params) before each request is answered, e.g. to
        #: change records while a client is between two pages.
        self.hooks: list[Callable[[str | None, dict[str, str]], None]] = []
        self.scale = scale or Scale.default()
        self.api_key = api_key
        self.host = host
        self._requested_port = port
        self._faults = faults or Faults()
        self._fault_state = FaultState(self._faults.fault_seed, self.now)
        data = generate(seed, self.scale, shapes)
        #: With ``drift``, the values sent in unexpected types (drift.py).
        self.drifted: list[DriftedValue] = apply_drift(data) if drift else []
        kinds = set(HOSTILE_KINDS) if hostile is True else set(hostile or ())
        #: With ``hostile``, the values JSON allows that stop naive pipelines (hostile.py).
        self.hostile: list[HostileValue] = apply_hostile(data, kinds, seed) if kinds else []
        #: Lists this workspace does not offer, and the status they answer: a feature off in
        #: its plan (403), an undocumented list withdrawn (404).
        self.unavailable = dict(unavailable or {})
        self._store = Store(data, self.now)
        self._log: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        """Start serving in a daemon thread (idempotent); return self."""
        if self._server is not None:
            return self
        server = _Server((self.host, self._requested_port), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="rocketlane-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            message = "emulator is not running; call start() first"
            raise RuntimeError(message)
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/1.0"

    def now(self) -> float:
        """The emulator's clock: epoch seconds, shifted by ``clock_offset_s``."""
        return time.time() + self.clock_offset_s

    # ------------------------------------------------------------------ faults
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        """New faults, with fresh rate windows: every key has its whole allowance again."""
        self._faults = value
        self._fault_state.reseed(value.fault_seed)
        self._fault_state.reset_windows()

    # -------------------------------------------------------------- test hooks
    def truth(self, resource: str) -> list[Record]:
        """Copies of all current records in full shape (archived/deleted included), by id.

        Nothing returned is shared with the emulator; like ``copy.deepcopy`` of the
        whole list, equal sub-objects (e.g. a user reference) may be shared within it.
        """
        return self._store.truth(resource)

    def ids(self, resource: str) -> set[int]:
        return self._store.ids(resource)

    def touch(self, resource: str, record_id: int, at_ms: int | None = None) -> Record:
        """Edit a record now (updatedAt strictly increases, a text field changes); return a copy.

        With ``at_ms``, the edit is stamped with that updatedAt instead, as an API whose lists
        lag behind its writes would show it. time-offs have no updatedAt: only their note changes.
        """
        return self._store.touch(resource, record_id, at_ms)

    def delete_project(self, project_id: int) -> None:
        """Delete a project with its phases, spaces, space documents, tasks and time entries."""
        self._store.delete_project(project_id)

    def delete(self, resource: str, record_id: int) -> None:
        """Hard-delete a record: it vanishes from lists and its GET answers 404.

        Deleting a project deletes what it contains; an invoice, its lines and payments.
        """
        self._store.delete(resource, record_id)

    def create(self, resource: str, like: int) -> Record:
        """Add a record like record ``like`` (same project), created now; return a copy."""
        return self._store.create(resource, like)

    def project_of(self, resource: str, record_id: int) -> int:
        """Project id of a project-owned record (any resource but users, fields, time-offs)."""
        return self._store.project_of(resource, record_id)

    @property
    def request_log(self) -> list[RequestLogEntry]:
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # ---------------------------------------------------------------- requests
    def handle(self, method: str, target: str, headers: dict[str, str]) -> Response:
        """Answer one request (``headers`` with lower-case names); no sockets involved."""
        arrived = self.now()
        request_id = str(uuid.uuid4())
        url = urlsplit(target)
        params = _parse_params(url.query)
        path = url.path
        # A list, a GET by id (/1.0/<resource>/<id>) or a nested list (/1.0/invoices/<id>/lines).
        resource, record_id, parent_id = (
            route(path[len(API_PREFIX) :]) if path.startswith(API_PREFIX) else (None, None, None)
        )
        faults = self._faults
        fault: str | None = None

        if faults.latency_s > 0:
            time.sleep(faults.latency_s)
        for hook in list(self.hooks):
            hook(resource, params)
        try:
            response, fault = self._answer(
                method, (resource, record_id, parent_id), params, headers, faults
            )
        except ApiError as error:
            response = Response(error.status, _json(error.body()))
        except Exception:  # noqa: BLE001 - an emulator bug: answer 500 like the API, print the trace
            traceback.print_exc()
            bug = ApiError(500, "INTERNAL_SERVER_ERROR", "Server Error: emulator bug")
            response = Response(500, _json(bug.body()))

        response.headers["Content-Type"] = "application/json"
        response.headers["X-Request-Id"] = request_id
        response.headers["Date"] = formatdate(self.now(), usegmt=True)
        entry = RequestLogEntry(
            method, path, resource, params, response.status, request_id, arrived, fault
        )
        with self._log_lock:
            self._log.append(entry)
        return response

    def _answer(
        self,
        method: str,
        target: tuple[str | None, int | None, int | None],  # (resource, GET by id, parent id)
        params: dict[str, str],
        headers: dict[str, str],
        faults: Faults,
    ) -> tuple[Response, str | None]:
        key = headers.get("api-key")
        if key != self.api_key:
            raise _UNAUTHORIZED
        retry_at = self._fault_state.admit(key, faults.rate_limit, faults.rate_window)
        if retry_at is not None:
            rate_headers = retry_after_headers(faults.retry_after_style, retry_at, self.now())
            return Response(429, _json(_RATE_LIMITED.body()), rate_headers), "rate_limit"
        if self._fault_state.chance(faults.error_rate):
            status, code, message = self._fault_state.server_error()
            return Response(status, _json(ApiError(status, code, message).body())), "error"
        if method != "GET":
            message = f"Method Not Allowed: {method} is not supported"
            raise ApiError(405, "METHOD_NOT_ALLOWED", message)
        resource, record_id, parent_id = target
        if resource is None:
            raise ApiError(404, "NOT_FOUND", "Not Found: Resource not found")
        self._refuse_unavailable(resource)
        if self.shapes == "live" and (unknown := unknown_params(RESOURCES[resource], params)):
            # The live API reads every parameter as a filter expression and fails on others.
            message = f"Server Error: cannot parse query parameter {unknown[0]}"
            raise ApiError(500, "INTERNAL_SERVER_ERROR", message)
        if record_id is not None:
            record = self._store.get(resource, record_id, params)
            if record is None:
                message = f"Not Found: {resource} {record_id} not found"
                raise ApiError(404, "NOT_FOUND", message)
            return Response(200, _json(record)), None
        return self._list(resource, params, faults, parent_id)

    def _refuse_unavailable(self, resource: str) -> None:
        if (status := self.unavailable.get(resource)) == 403:
            raise ApiError(403, "FORBIDDEN", f"Forbidden: {resource} is not enabled")
        if status:
            raise ApiError(status, "NOT_FOUND", "Not Found: Resource not found")

    def _list(
        self, resource: str, params: dict[str, str], faults: Faults, parent: int | None = None
    ) -> tuple[Response, str | None]:
        page = self._store.list_page(resource, params, faults.token_ttl_s, parent)
        if resource == "projects" and faults.vanish_projects:
            # Deleted before the response is sent, so the client can never see the children.
            for record in page.records:
                if record["projectId"] in faults.vanish_projects:
                    self._store.delete_project(record["projectId"])
        path = url_path(RESOURCES[resource], parent)
        body = _json({"data": page.records, "pagination": self._pagination(path, page)})
        if self._fault_state.chance(faults.truncate_rate):
            return Response(200, body[: self._fault_state.cut_point(len(body))]), "truncate"
        return Response(200, body), None

    def _pagination(self, path: str, page: Page) -> dict[str, Any]:
        pagination: dict[str, Any] = {
            "pageSize": page.page_size,
            "hasMore": page.has_more,
            "totalRecordCount": page.total,
        }
        if page.has_more and page.next_token:
            pagination["nextPageToken"] = page.next_token
            query = urlencode([*page.query.params, ("pageToken", page.next_token)])
            # Live: an http:// URL, as captured; the spec's examples are https:// URLs.
            base = (
                self.base_url
                if self.shapes == "live"
                else self.base_url.replace("http:", "https:", 1)
            )
            pagination["nextPage"] = f"{base}/{path}?{query}"
        elif self.shapes == "spec":
            # The spec lists both keys; live, the last page leaves them out.
            pagination["nextPageToken"] = pagination["nextPage"] = None
        return pagination


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    @override
    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def add_connection(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def remove_connection(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Hang up on keep-alive clients so a stopped emulator really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @override
    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up (e.g. after a truncated body) are normal here.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients' connection pools expect
    server: _Server
    timeout = 120  # idle keep-alive connections are eventually dropped

    @override
    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus
        # delayed ACKs add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.add_connection(self.connection)

    @override
    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.remove_connection(self.connection)

    @override
    def log_message(self, format: str, *args: object) -> None:
        """Silenced: tests read the process's stdout/stderr."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # drain any body so the connection stays usable
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.emulator.handle(self.command, self.path, headers)
        try:
            # Not send_response: it adds a Date from the real clock, not the emulator's.
            self.send_response_only(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815 - http.server API
