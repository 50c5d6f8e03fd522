"""What a client and a node actor send each other, besides the calls' own parameters and results.

Parameters and results cross as whole objects (``ExecCommandParams``, ``ExecCommandOutput``,
``SessionInfo``, errors): whatever fields they gain reach the other side unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ..errors import StreamshellError
from ..results import SessionInfo

NAMESPACE = "streamshell"
"""The Ray namespace of the node actors."""

FORWARDED = frozenset(
    {
        "exec_command",
        "write_stdin",
        "kill_session",
        "run",
        "resize",
        "list_sessions",
        "ended_sessions",
        "send_input",
    }
)
"""The session manager's methods a client may call on a node (``watch`` streams: ``NodeActor.watch``)."""


class Call(NamedTuple):
    """One call a client sends a node: a :data:`FORWARDED` method and its arguments (the node
    actor's ``call`` and ``stream`` take them spread: ``*call``)."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}  # noqa: RUF012 - shared by calls without keywords, never mutated


def actor_name(node_id: str, version: str) -> str:
    """The node actor's name: one per node and streamshell version, found by every client."""
    return f"streamshell-{version}-{node_id}"


@dataclass(frozen=True, slots=True)
class Reply:
    """A node's answer to one call.

    ``value`` is what the manager's method returned, unless it raised ``error``. ``gone`` are
    the client's sessions that left the node's table since the last reply (exit reported,
    killed, pruned), so the client's table stays exact. ``started`` is the new session of an
    ``exec_command`` that left it running. ``dropped``: the node no longer holds sessions for
    this client, and how they ended for it (the text after "session id N").
    """

    value: Any = None
    error: StreamshellError | None = None
    gone: tuple[int, ...] = ()
    started: SessionInfo | None = None
    dropped: str | None = None


@dataclass(frozen=True, slots=True)
class Attached:
    """What attaching to a node returns.

    ``sessions`` and ``next_id`` are what the node still holds under the client's name (a
    restarted client takes them back). ``closing``: the actor is shutting down (its last
    client left just now); attach again to get a new one.
    """

    node: str
    pid: int
    sessions: tuple[SessionInfo, ...] = ()
    next_id: int = 0
    closing: bool = False
