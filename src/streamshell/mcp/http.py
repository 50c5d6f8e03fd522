"""Serving MCP as Streamable HTTP at ``/mcp``: a bearer token on every request, the MCP spec's
Host and Origin checks against DNS rebinding, and bounds on what clients can pile up. Beside it,
when given, the page at ``/ui`` (its own application: :mod:`streamshell.ui`, which logs people in
with the same token and makes the same Host and Origin checks).

- A connection must send a whole request head within ``header_timeout`` seconds of opening
  and of each response (slowloris connections are closed).
- At most ``max_connections`` connections and requests at once: more get 503.
- At most ``max_clients`` MCP sessions: another ``initialize`` gets 503 ("Too many open
  sessions"); an MCP session with no request in flight for ``idle_timeout`` seconds is ended,
  and its client's sessions with it.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

CONNECTIONS_PER_CLIENT = 4
"""Connections and requests at once per allowed client (a GET stream, calls in flight): the
connection cap is this times ``max_clients``, plus a few for clients being refused."""

LOOPBACK = ("127.0.0.1", "localhost", "::1")

UI_PATH = "/ui"

UiFactory = Callable[[TransportSecuritySettings], ASGIApp]
"""Makes the ``/ui`` application, given the Host and Origin checks the MCP endpoint makes."""


def _bracketed(name: str) -> str:
    return f"[{name}]" if ":" in name else name


def _security(host: str, port: int, allowed_hosts: Sequence[str]) -> TransportSecuritySettings:
    """DNS-rebinding protection (the MCP spec's Host and Origin checks): requests must name
    loopback, the served address or one of ``allowed_hosts`` (how remote clients reach a
    server bound to a wildcard address like 0.0.0.0), with or without a port.

    Browser origins on loopback are accepted on the served port only (a page served by another
    local program must not drive the shell); an ``allowed_hosts`` name on any port (a reverse
    proxy may serve it on its own)."""
    names = [_bracketed(n) for n in (*LOOPBACK, host, *allowed_hosts)]
    hosts = {h for n in names for h in (n, f"{n}:*")}
    local = {_bracketed(n) for n in (*LOOPBACK, host)}
    remote = {_bracketed(n) for n in allowed_hosts}
    origins = {f"{scheme}://{n}:{port}" for n in local for scheme in ("http", "https")}
    origins |= {
        o for n in remote for scheme in ("http", "https") for o in (f"{scheme}://{n}", f"{scheme}://{n}:*")
    }
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection that has not sent a whole request head
    within :attr:`header_timeout` seconds of opening or of its last response. uvicorn's own
    keep-alive timeout stops counting at the first byte, so a client dribbling a header a byte
    at a time (slowloris) would hold the connection for ever."""

    header_timeout: float
    """Seconds a connection gets to send a request head (set per server by :func:`serve_http`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: object = None
        self._await_head()

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self.cycle is not self._timed_cycle:  # a request head arrived
            self._timed_cycle = self.cycle
            self._stop_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>`` (else 401)."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b"missing or wrong bearer token\n"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="streamshell"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self._app(scope, receive, send)


class WithUi:
    """ASGI: ``/ui`` and below go to the page's application (it checks logins itself), the rest
    (lifespan included) to the MCP application."""

    def __init__(self, ui: ASGIApp, rest: ASGIApp) -> None:
        self._ui = ui
        self._rest = rest

    def __repr__(self) -> str:
        return f"<WithUi {UI_PATH} -> {self._ui!r}, the rest -> {self._rest!r}>"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == UI_PATH or path.startswith(UI_PATH + "/")):
            await self._ui(scope, receive, send)
        else:
            await self._rest(scope, receive, send)


async def serve_http(
    server: Server[Any],
    sock: socket.socket,
    token: str,
    allowed_hosts: Sequence[str] = (),
    *,
    max_clients: int,
    idle_timeout: float | None,
    header_timeout: float,
    ui: UiFactory | None = None,
) -> None:
    """Serve Streamable HTTP at ``/mcp`` on an already bound socket, behind a bearer token; and the
    page ``ui`` makes at ``/ui``, when given. (The caps' defaults are ``streamshell serve``'s flags'.)"""
    import uvicorn

    host, port = sock.getsockname()[:2]
    security = _security(host, port, allowed_hosts)
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        transport_security=security,
        host=host,
        max_sessions=max_clients,
        session_idle_timeout=idle_timeout,
    )
    served: ASGIApp = BearerAuth(app, token)
    if ui is not None:
        served = WithUi(ui(security), served)
    config = uvicorn.Config(
        served,
        log_level="warning",
        lifespan="on",
        http=type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": header_timeout}),
        limit_concurrency=CONNECTIONS_PER_CLIENT * max_clients + 8,
    )
    await uvicorn.Server(config).serve(sockets=[sock])
