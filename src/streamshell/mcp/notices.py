"""Exit notices as MCP log notifications, which clients show to the person (and some to the model).

A session that exits while no call waits on it is named in the next tool result; the server
also sends the same line at once as ``notifications/message`` (level ``notice``, logger
``streamshell``):

- to the client whose session it was (to every client that made a call when they share one
  table), if it is connected with a handshake-era protocol (which has a stream for
  server-initiated messages), as soon as the session exits; never to another client;
- on the 2026-07-28 protocol, where log messages may only ride a request's own stream and
  only when the request opted in, with the result of the call that carries the notice.

The server declares the ``logging`` capability (``logging/setLevel`` is honoured per client).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import anyio
from mcp.server.connection import Connection
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .connections import connection_of

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ..results import ExitNotice

LEVEL: LoggingLevel = "notice"
LOGGER = "streamshell"

_LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)
"""Severity-ascending, in the order the protocol's ``LoggingLevel`` declares them (RFC 5424)."""

log = logging.getLogger(__name__)

T = TypeVar("T")


def is_modern(session: ServerSession) -> bool:
    """Whether the client speaks the 2026-07-28 protocol (no server-initiated stream for logs)."""
    return session.protocol_version in MODERN_PROTOCOL_VERSIONS


EVERYONE = None
"""The owner of a notice every client may see (sessions shared by all clients)."""


class ExitNotifier:
    """Remembers the clients that made calls, until their connections close, and sends each exit
    notice to the client it belongs to.

    Invariant: a notice pushed for a connection goes to that connection's client only; one
    pushed for :data:`EVERYONE` goes to every remembered client.
    """

    def __init__(self) -> None:
        self._clients: dict[Connection, ServerSession] = {}
        self._levels: dict[Connection, LoggingLevel] = {}
        self._send: MemoryObjectSendStream[tuple[ExitNotice, Connection | None]]
        self._receive: MemoryObjectReceiveStream[tuple[ExitNotice, Connection | None]]
        self._send, self._receive = anyio.create_memory_object_stream(math.inf)

    def __repr__(self) -> str:
        return f"<ExitNotifier clients={len(self._clients)}>"

    def remember(self, session: ServerSession) -> None:
        """A client made a call: tell it of later exits (handshake-era clients only)."""
        connection = connection_of(session)
        if connection is None or is_modern(session) or connection in self._clients:
            return
        self._clients[connection] = session
        connection.exit_stack.callback(self.forget, connection)

    def forget(self, connection: Connection) -> None:
        """The client's connection closed (or cannot take notices any more)."""
        self._clients.pop(connection, None)
        self._levels.pop(connection, None)

    def set_level(self, session: ServerSession, level: LoggingLevel) -> None:
        connection = connection_of(session)
        if connection is not None:
            self._levels[connection] = level

    def push(self, notice: ExitNotice, owner: Connection | None = EVERYONE) -> None:
        """A session manager's exit listener: queue the notice for the client on ``owner``, or for
        everyone (called on the event loop)."""
        self._send.send_nowait((notice, owner))

    async def run(self) -> None:
        """Send queued notices until cancelled."""
        async with self._receive:
            async for notice, owner in self._receive:
                for connection in self._recipients(owner):
                    try:
                        await _log(self._clients[connection], notice)
                    except Exception as e:  # the client went away
                        log.debug("dropping a client that cannot take notices: %r", e)
                        self.forget(connection)

    def _recipients(self, owner: Connection | None) -> list[Connection]:
        """The remembered clients ``owner``'s notice goes to, less those whose level is above it."""
        chosen = list(self._clients) if owner is EVERYONE else [owner] if owner in self._clients else []
        threshold = _LEVELS.index(LEVEL)
        return [c for c in chosen if _LEVELS.index(self._levels.get(c, "debug")) <= threshold]


async def send_with_result(session: ServerSession, request_id: Any, notices: tuple[ExitNotice, ...]) -> None:
    """On the 2026-07-28 protocol: the notices a result carries, as log messages on its request."""
    if not is_modern(session):
        return
    for notice in notices:
        await _log(session, notice, request_id)


async def _log(session: ServerSession, notice: ExitNotice, request_id: Any = None) -> None:
    sending = quietly(
        lambda: session.send_log_message(LEVEL, notice.text, logger=LOGGER, related_request_id=request_id)
    )
    await sending


def logging_handler(notifier: ExitNotifier) -> Callable[[Any, SetLevelRequestParams], Awaitable[EmptyResult]]:
    """The ``logging/setLevel`` handler, whose presence declares the ``logging`` capability."""

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        notifier.set_level(ctx.session, params.level)
        return EmptyResult()

    return set_level


def quietly(build: Callable[[], T]) -> T:
    """Run ``build()`` without the SDK's warning that logging is deprecated on the 2026-07-28
    protocol (the handshake-era clients it serves still use it; the warning is raised when the
    call is made, so only the making is wrapped, never an await)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        return build()
