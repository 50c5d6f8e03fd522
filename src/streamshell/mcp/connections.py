"""Which MCP client a request came from: its connection (one ``Mcp-Session-Id`` over
Streamable HTTP, one stdin/stdout pair over stdio)."""

from __future__ import annotations

from mcp.server.connection import Connection


def connection_of(session: object) -> Connection | None:
    """The connection a request came on. The SDK (2.x) hands handlers a per-request
    ``ServerSession`` whose connection has no public accessor; None if that changes (then
    per-client session tables and exit notices are refused, unless the tables are shared)."""
    connection = getattr(session, "_connection", None)
    return connection if isinstance(connection, Connection) else None
