"""Serving MCP as Streamable HTTP at ``/mcp``: a bearer token on every request, and the MCP spec's
Host and Origin checks against DNS rebinding."""

from __future__ import annotations

import hmac
import socket
from collections.abc import Sequence
from typing import Any

from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings


def _security(host: str, allowed_hosts: Sequence[str]) -> TransportSecuritySettings:
    """DNS-rebinding protection (the MCP spec's Host and Origin checks): requests must name
    loopback, the served address or one of ``allowed_hosts`` (how remote clients reach a
    server bound to a wildcard address like 0.0.0.0)."""
    names = ("127.0.0.1", "localhost", "::1", host, *allowed_hosts)
    hosts = {f"[{name}]:*" if ":" in name else f"{name}:*" for name in names}
    origins = {f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


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


async def serve_http(
    server: Server[Any], sock: socket.socket, token: str, allowed_hosts: Sequence[str] = ()
) -> None:
    """Serve Streamable HTTP at ``/mcp`` on an already bound socket, behind a bearer token."""
    import uvicorn

    host = sock.getsockname()[0]
    security = _security(host, allowed_hosts)
    app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
    config = uvicorn.Config(BearerAuth(app, token), log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])
