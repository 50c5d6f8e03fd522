"""Each MCP client's own session table: its sessions, its ids, its list and its kills.

A client is an MCP session: one ``Mcp-Session-Id`` over Streamable HTTP, one connection
over stdio. Its first tool call makes its session manager (with the server's factory); the
manager closes, killing the client's sessions, when the MCP session ends: the client's
DELETE, the HTTP idle timeout, stdin's EOF, or the server stopping. So one client can
neither see nor kill another's sessions, nor hear of their exits (a table's exit notices
go to its own client only). With ``shared=True`` (``serve --shared-sessions``, for one
user's several clients) every client uses one manager, as before.

Requests of the 2026 protocol revision carry no MCP session: each is a connection of its
own, with nothing that ties it to the next. They share one table, as with ``shared=True``;
its exit notices ride the results that carry them, never another client's stream.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp.server.connection import Connection
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .notices import EVERYONE

if TYPE_CHECKING:  # not on the way to answering initialize
    from ..tools.backend import SessionBackend

log = logging.getLogger(__name__)

BackendFactory = Callable[[], "SessionBackend"]
Notify = Callable[..., None]
"""Where a table's exit notices go, with the connection of the client they are for (None: everyone)."""

_UNTOLD = object()
"""The owner of notices nobody is told at once (see :meth:`ClientTables._owner`)."""

SHARED = "shared"
"""The key of the one table shared by every client (``shared=True``, and sessionless requests)."""


class ClientTables:
    """The session managers of the server's clients, one per MCP session (or one for all)."""

    def __init__(
        self, factory: BackendFactory, *, shared: bool = False, notify: Notify | None = None
    ) -> None:
        self._factory = factory
        self._shared = shared
        self._notify = notify
        self._tables: dict[Any, SessionBackend] = {}
        self._unsubscribe: dict[Any, Callable[[], None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        kind = "shared" if self._shared else "per client"
        return f"<ClientTables {kind} tables={len(self._tables)} closing={len(self._closing)}>"

    def backend(self, connection: Connection | None) -> SessionBackend:
        """The session manager of the client on ``connection`` (made on its first call)."""
        key = self._key(connection)
        table = self._tables.get(key)
        if table is None:
            if self._closed:  # the server is stopping: no new sessions to outlive it
                from ..errors import ManagerClosedError

                raise ManagerClosedError
            table = self._tables[key] = self._factory()
            owner = self._owner(key)
            if self._notify is not None and owner is not _UNTOLD:
                self._unsubscribe[key] = table.subscribe_exit_notices(
                    functools.partial(self._notify, owner=owner)
                )
            if connection is not None and key is connection:
                connection.exit_stack.callback(self._client_left, connection)
                log.info(
                    "a new MCP client (session %s): its own session table", connection.session_id or "stdio"
                )
        return table

    def _owner(self, key: Any) -> Connection | object | None:
        """Whom a table's exit notices go to: its own client only; every client when all share
        one table; nobody at once for the 2026 protocol's sessionless requests (their notices
        ride the results that carry them, and must not reach the clients with tables of their own)."""
        if self._shared:
            return EVERYONE
        return _UNTOLD if key is SHARED else key

    def _key(self, connection: Connection | None) -> Any:
        if self._shared:
            return SHARED
        if connection is None:  # never one client's sessions in another's table: refuse instead
            raise RuntimeError(
                "this mcp SDK version does not let streamshell tell clients apart; "
                "serve with --shared-sessions to give all clients one session table"
            )
        if connection.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return SHARED
        return connection

    def _client_left(self, connection: Connection) -> None:
        """The client's MCP session ended: close its manager (killing its sessions) in the
        background, so the SDK's bounded connection cleanup never cuts the kill short."""
        table = self._tables.pop(connection, None)
        if table is None:
            return
        self._unsubscribe.pop(connection, lambda: None)()
        log.info("MCP client (session %s) gone: closing its sessions", _name(connection))
        task = asyncio.get_running_loop().create_task(table.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every client's manager and wait until their sessions are dead."""
        self._closed = True
        tables = list(self._tables.values())
        self._tables.clear()
        for unsubscribe in self._unsubscribe.values():
            unsubscribe()
        self._unsubscribe.clear()
        await asyncio.gather(*(table.aclose() for table in tables), return_exceptions=True)
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _name(connection: Connection) -> str:
    return (connection.session_id or "stdio")[:16]
