"""The client's table of a cluster's sessions: global ids, the node of each, and what was last seen.

Ids count from 0 across the whole cluster, as the reference's do on one machine; each
node's session manager uses the same ids for its sessions, so every text a node writes
(results, errors, notices) is already right for the client. The table knows, per id,
which node it went to (two bytes an id: ids are never reused), and, per session believed
open, the :class:`SessionInfo` its node gave when it started and when the client last
heard of it: what a lost session is remembered by.
"""

from __future__ import annotations

import dataclasses
import time
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from .._engine.manager import ENDED_MEMORY
from ..errors import SessionEndedError, SessionLostError, StreamshellError, UnknownSessionError
from ..results import SessionInfo

UNROUTED = 0xFFFF
"""The node index of an id that went to no node (placement found none, or it was never seen)."""

MAX_NODES = UNROUTED
"""Nodes one client can use (node indexes are stored in two bytes)."""


@dataclass(slots=True)
class Seen:
    """A session believed open: its node, its info when it started, when the client last heard of it."""

    node: int
    info: SessionInfo
    last_seen: float


@dataclass(frozen=True, slots=True)
class Ended:
    """How a session the client answers for itself ended (nodes answer for the rest)."""

    how: str

    def error(self, session_id: int) -> StreamshellError:
        return SessionEndedError(session_id, self.how)


@dataclass(frozen=True, slots=True)
class Lost:
    """A session that went down with its node."""

    node: str
    last_seen: str

    def error(self, session_id: int) -> StreamshellError:
        return SessionLostError(session_id, self.node, self.last_seen)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def last_seen_running(seen: Seen) -> str:
    """What the client last knew of a session that was running."""
    return f"last seen at {_iso(seen.last_seen)} running `{seen.info.command}` as pid {seen.info.pid}"


def last_seen_starting(command: str) -> str:
    """What the client knew of a session whose start its node never answered."""
    return f"it was starting `{command}`"


class SessionTable:
    """Global session ids: which node each went to, and the sessions believed open per node.

    A node index is a small number the client gives each node, in the order it first saw them.
    """

    def __init__(self) -> None:
        self.next_id = 0
        self._routes = array("H")
        self._live: dict[int, Seen] = {}
        self._by_node: list[set[int]] = []
        self._starting: list[int] = []
        self._ended: OrderedDict[int, Ended | Lost] = OrderedDict()
        self._lost: dict[int, SessionInfo] = {}

    def __repr__(self) -> str:
        return (
            f"<SessionTable next_id={self.next_id} live={len(self._live)} lost={len(self._lost)} "
            f"nodes={len(self._by_node)}>"
        )

    # ----- nodes -----------------------------------------------------------------------------

    def add_node(self) -> int:
        """A new node index."""
        if len(self._by_node) >= MAX_NODES:
            raise ValueError(f"a client can use at most {MAX_NODES} nodes")
        self._by_node.append(set())
        self._starting.append(0)
        return len(self._by_node) - 1

    def load(self, node: int) -> int:
        """Sessions open on ``node``, counting those being started: what placement compares."""
        return len(self._by_node[node]) + self._starting[node]

    def open_on(self, node: int) -> list[int]:
        return sorted(self._by_node[node])

    # ----- ids -------------------------------------------------------------------------------

    def issue(self) -> int:
        """The next id, going to no node yet (:meth:`assign` gives it one)."""
        session_id = self.next_id
        self.next_id += 1
        self._routes.append(UNROUTED)
        return session_id

    def assign(self, session_id: int, node: int) -> None:
        """``session_id`` is being started on ``node``."""
        self._routes[session_id] = node
        self._starting[node] += 1

    def answered(self, session_id: int, info: SessionInfo | None) -> None:
        """The node answered the start of ``session_id``: with the session's info when it is still
        open, None when it already ended (or never started)."""
        node = self._routes[session_id]
        self._starting[node] -= 1
        if info is not None:
            self._live[session_id] = Seen(node, info, time.time())
            self._by_node[node].add(session_id)

    def route(self, session_id: int) -> int:
        """The node index to send a call on ``session_id`` to; raises the error the model reads when
        the client knows better (never issued, ended here, lost: the first ask takes it off the list)."""
        ended = self._ended.get(session_id)
        if ended is not None:
            self._lost.pop(session_id, None)
            raise ended.error(session_id)
        if 0 <= session_id < len(self._routes) and self._routes[session_id] != UNROUTED:
            return self._routes[session_id]
        if 0 <= session_id < self.next_id:
            raise SessionEndedError(session_id, "has ended")
        raise UnknownSessionError(session_id)

    def is_open(self, session_id: int) -> bool:
        """Whether ``session_id`` is believed open on its node (its unread output still there)."""
        return session_id in self._live

    def heard(self, session_id: int) -> None:
        """A call on ``session_id`` came back with the session still open."""
        seen = self._live.get(session_id)
        if seen is not None:
            seen.last_seen = time.time()

    def close(self, session_id: int) -> None:
        """``session_id`` left its node's table (its node answers for it from now on)."""
        seen = self._live.pop(session_id, None)
        if seen is not None:
            self._by_node[seen.node].discard(session_id)

    def gone_error(self, session_id: int, how: str) -> StreamshellError:
        """The error for ``session_id`` now that its node dropped it: what the table remembers
        (lost with its node, killed with the others), else ``how``. Asking takes it off the list."""
        if session_id not in self._ended:
            self.end_here(session_id, how)
        self._lost.pop(session_id, None)
        return self._ended[session_id].error(session_id)

    def end_here(self, session_id: int, how: str) -> None:
        """The client answers for ``session_id`` from now on: it ended with ``how``."""
        self.close(session_id)
        self._remember(session_id, Ended(how))

    def _remember(self, session_id: int, end: Ended | Lost) -> None:
        self._ended[session_id] = end
        while len(self._ended) > ENDED_MEMORY:
            forgotten, _ = self._ended.popitem(last=False)
            self._lost.pop(forgotten, None)

    # ----- whole nodes -----------------------------------------------------------------------

    def lose_node(self, node: int, node_id: str) -> list[int]:
        """``node`` left the cluster: its open sessions are lost (listed as such until asked about);
        return their ids."""
        lost = self.open_on(node)
        for session_id in lost:
            seen = self._live[session_id]
            self.close(session_id)
            self._remember(session_id, Lost(node_id, last_seen_running(seen)))
            self._lost[session_id] = dataclasses.replace(
                seen.info, last_used_at=seen.last_seen, lost=True, node=node_id
            )
        return lost

    def lose_start(self, session_id: int, node_id: str, command: str) -> StreamshellError:
        """The node of a session being started left before answering; the error for that call."""
        self._starting[self._routes[session_id]] -= 1
        end = Lost(node_id, last_seen_starting(command))
        self._remember(session_id, end)
        return end.error(session_id)

    def end_node(self, node: int, how: str) -> list[int]:
        """``node`` dropped this client's sessions (``how`` they ended); return their ids."""
        ended = self.open_on(node)
        for session_id in ended:
            self.end_here(session_id, how)
        return ended

    def adopt(self, node: int, sessions: list[SessionInfo], next_id: int) -> None:
        """A node still holds ``sessions`` from a previous client of this name: take them over."""
        top = max([next_id - 1, *(s.session_id for s in sessions)])
        if top >= self.next_id:
            self._routes.extend([UNROUTED] * (top + 1 - self.next_id))
            self.next_id = top + 1
        now = time.time()
        for info in sessions:
            self._routes[info.session_id] = node
            self._live[info.session_id] = Seen(node, info, now)
            self._by_node[node].add(info.session_id)

    def reconcile(self, node: int, listed: list[SessionInfo]) -> None:
        """``node`` listed its sessions: forget the ones it no longer has, refresh the rest."""
        present = {info.session_id: info for info in listed}
        for session_id in self.open_on(node):
            if session_id not in present:
                self.close(session_id)
        now = time.time()
        for session_id, info in present.items():
            seen = self._live.get(session_id)
            if seen is not None:
                seen.info, seen.last_seen = info, now

    def lost_sessions(self) -> list[SessionInfo]:
        """Lost sessions not asked about yet, as last seen (``lost`` set)."""
        return list(self._lost.values())
