"""Every session of a server, for the people watching it: one view over all its session managers.

A server makes session managers as it needs them: one for all its clients, or one per MCP
client (each with its own ids, from 0), or one on a Ray cluster. :meth:`SessionDirectory.track`
wraps the server's factory, so each manager is added here as it is made, under a label of its
own ("1", "2", ...); a session is then known by ``LABEL:ID`` (``1:3``). A manager that closes
(its client left) is let go, and the sessions it had ended stay listed, up to
:data:`ENDED_KEPT` of them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..results import ExecCommandOutput, SessionInfo

ENDED_KEPT = 256
"""Ended sessions of managers that closed, kept in the list."""

log = logging.getLogger(__name__)


class WatchStream(Protocol):
    """Events of one watched session (:mod:`streamshell._engine.watch`): an async iterator."""

    def __aiter__(self) -> AsyncIterator[Any]: ...

    async def aclose(self) -> None: ...


class Watched(Protocol):
    """What the people watching need of a session manager (:class:`~streamshell.SessionManager`,
    :class:`~streamshell.cluster.RaySessionManager`)."""

    @property
    def closed(self) -> bool: ...

    def list_sessions(self) -> list[SessionInfo] | Awaitable[list[SessionInfo]]: ...

    def ended_sessions(self) -> list[SessionInfo] | Awaitable[list[SessionInfo]]: ...

    def watch(self, session_id: int) -> WatchStream: ...

    async def send_input(self, session_id: int, chars: str) -> None: ...

    async def kill_session(self, session_id: int, *, max_output_tokens: int = ...) -> ExecCommandOutput: ...


B = TypeVar("B")


@dataclass(frozen=True)
class Listed:
    """One session as the directory lists it: ``live`` while it is in its manager's table
    (running, or exited with its exit not reported yet)."""

    table: str
    info: SessionInfo
    live: bool

    @property
    def key(self) -> str:
        return f"{self.table}:{self.info.session_id}"


class UnknownKey(LookupError):
    """No session is listed under a key; ``str()`` says so, for the person."""


class SessionDirectory:
    """The server's session managers, each under a label, and the sessions ended in closed ones."""

    def __init__(self) -> None:
        self._tables: dict[str, Watched] = {}
        self._made = 0
        self._gone: deque[Listed] = deque(maxlen=ENDED_KEPT)

    def __repr__(self) -> str:
        return f"<SessionDirectory tables={list(self._tables)} ended_kept={len(self._gone)}>"

    def track(self, factory: Callable[[], B]) -> Callable[[], B]:
        """``factory``, adding each manager it makes to the directory."""

        def make() -> B:
            manager = factory()
            self.add(manager)  # type: ignore[arg-type]
            return manager

        return make

    def add(self, manager: Watched) -> str:
        """List ``manager``'s sessions from now on; returns its label."""
        self._made += 1
        label = str(self._made)
        self._tables[label] = manager
        return label

    @property
    def tables(self) -> int:
        """How many managers were ever added (with one, keys need no label to be told apart)."""
        return self._made

    def manager(self, table: str) -> Watched:
        manager = self._tables.get(table)
        if manager is None or manager.closed:
            raise UnknownKey(f"no open session table {table!r}")
        return manager

    async def sessions(self) -> list[Listed]:
        """Every session, live and ended, of every manager (the closed ones' ended sessions too), by
        table, then id. Each live session's process is looked at (is it waiting for input?)."""
        for label, manager in list(self._tables.items()):
            if manager.closed:  # its client left: keep what it ended, let it go
                del self._tables[label]
                self._gone.extend(
                    Listed(label, info, False) for info in await _answer(manager.ended_sessions())
                )
        tables = list(self._tables.items())
        answers = await asyncio.gather(
            *(self._list_one(label, manager) for label, manager in tables), return_exceptions=True
        )
        listed: list[Listed] = list(self._gone)
        for (label, _), answer in zip(tables, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("listing the sessions of table %s failed: %s", label, answer)
                continue
            listed += answer
        listed.sort(key=lambda item: (int(item.table), item.info.session_id, item.live))
        return listed

    async def find(self, key: str) -> Listed:
        """The session listed as ``key``: ``LABEL:ID``, or ``ID`` alone when one table has it (a
        live session before ended ones); raises :class:`UnknownKey` saying what is listed."""
        listed = await self.sessions()
        if ":" in key:
            found = [item for item in listed if item.key == key]
        else:
            found = [item for item in listed if str(item.info.session_id) == key]
            if len(found) > 1 and sum(item.live for item in found) == 1:
                found = [item for item in found if item.live]
        if len(found) == 1:
            return found[0]
        if found:
            keys = ", ".join(item.key for item in found)
            raise UnknownKey(f"session {key} is in several session tables ({keys}): give one of these")
        known = ", ".join(item.key for item in listed if item.live) or "none"
        raise UnknownKey(f"no session {key} is listed (live sessions: {known})")

    async def _list_one(self, label: str, manager: Watched) -> list[Listed]:
        live = await _answer(manager.list_sessions())
        ended = await _answer(manager.ended_sessions())
        live_ids = {info.session_id for info in live}
        return [Listed(label, info, False) for info in ended if info.session_id not in live_ids] + [
            Listed(label, info, True) for info in live
        ]


async def _answer(value: list[SessionInfo] | Awaitable[list[SessionInfo]]) -> list[SessionInfo]:
    """A manager's list, whether it answers at once (a local manager) or not (a cluster's)."""
    return await value if inspect.isawaitable(value) else value
