"""Exit notices as MCP log notifications, which clients show to the person (and some to the model).

A session that exits while no call waits on it is named in the next tool result; the server
also sends the same line at once as ``notifications/message`` (level ``notice``, logger
``streamshell``):

- to the client whose session it was (to every client when they share one table),
  if it is connected with a handshake-era protocol (which has a stream for
  server-initiated messages), as soon as the session exits;
- on the 2026-07-28 protocol, where log messages may only ride a request's own stream and
  only when the request opted in, with the result of the call that carries the notice.

The server declares the ``logging`` capability (``logging/setLevel`` is honoured per client).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, get_args

import anyio
from mcp.server.connection import Connection
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import EmptyResult, LoggingLevel, SetLevelRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ..results import ExitNotice

LEVEL: LoggingLevel = "notice"
LOGGER = "streamshell"
MAX_CLIENTS = 64
"""Clients remembered for notices; the least recently active ones are forgotten first."""

_LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)
"""Severity-ascending, in the order the protocol's ``LoggingLevel`` declares them (RFC 5424)."""

log = logging.getLogger(__name__)

T = TypeVar("T")


def is_modern(session: ServerSession) -> bool:
    """Whether the client speaks the 2026-07-28 protocol (no server-initiated stream for logs)."""
    return session.protocol_version in MODERN_PROTOCOL_VERSIONS


def _client_key(session: ServerSession) -> int | None:
    """What tells one handshake-era client from another: its ``initialize`` parameters object."""
    params = session.client_params
    return None if params is None else id(params)


def connection_key(connection: Connection) -> int | None:
    """The key :func:`_client_key` gives the sessions of requests on ``connection``."""
    params = connection.client_params
    return None if params is None else id(params)


EVERYONE = None
"""The owner of a notice every client may see (sessions shared by all clients)."""


class ExitNotifier:
    """Remembers the clients that made calls, and sends each exit notice to them."""

    def __init__(self) -> None:
        self._clients: OrderedDict[int, ServerSession] = OrderedDict()
        self._levels: dict[int, LoggingLevel] = {}
        self._send: MemoryObjectSendStream[tuple[ExitNotice, int | None]]
        self._receive: MemoryObjectReceiveStream[tuple[ExitNotice, int | None]]
        self._send, self._receive = anyio.create_memory_object_stream(math.inf)

    def __repr__(self) -> str:
        return f"<ExitNotifier clients={len(self._clients)}>"

    def remember(self, session: ServerSession) -> None:
        """A client made a call: tell it of later exits (handshake-era clients only)."""
        key = _client_key(session)
        if key is None or is_modern(session):
            return
        self._clients[key] = session
        self._clients.move_to_end(key)
        while len(self._clients) > MAX_CLIENTS:
            forgotten, _ = self._clients.popitem(last=False)
            self._levels.pop(forgotten, None)

    def set_level(self, session: ServerSession, level: LoggingLevel) -> None:
        key = _client_key(session)
        if key is not None:
            self._levels[key] = level

    def push(self, notice: ExitNotice, owner: int | None = EVERYONE) -> None:
        """A session manager's exit listener: queue the notice for the client ``owner`` (a key of
        :func:`connection_key`), or for everyone (called on the event loop)."""
        self._send.send_nowait((notice, owner))

    async def run(self) -> None:
        """Send queued notices until cancelled."""
        async with self._receive:
            async for notice, owner in self._receive:
                for key, session in list(self._clients.items()):
                    if owner is not EVERYONE and key != owner:
                        continue  # another client's session: not this client's business
                    if _LEVELS.index(self._levels.get(key, "debug")) > _LEVELS.index(LEVEL):
                        continue
                    try:
                        await _log(session, notice)
                    except Exception as e:  # the client went away: forget it
                        log.debug("dropping a client that cannot take notices: %r", e)
                        self._clients.pop(key, None)


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
