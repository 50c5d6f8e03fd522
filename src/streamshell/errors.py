"""Errors raised by streamshell.

Every error's ``str()`` is the exact text the model reads as the tool result, so
callers (the dispatcher, the MCP server) pass it through unchanged.
"""

from __future__ import annotations

from typing import Any


def _restore(cls: type[StreamshellError], text: str, attributes: dict[str, Any]) -> StreamshellError:
    """An error as :meth:`StreamshellError.__reduce__` saved it: same class, text and attributes."""
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    error.__dict__.update(attributes)
    return error


class StreamshellError(Exception):
    """Base class: a call failed and nothing else changed.

    Errors survive pickling with their text and attributes (a cluster's nodes send them to
    the client), although each subclass's constructor takes other arguments than its text.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), str(self), self.__dict__))


class InvalidArgumentsError(StreamshellError):
    """The arguments of a tool call could not be parsed or are out of range."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"failed to parse function arguments: {detail}")
        self.detail = detail


class UnsupportedCallError(StreamshellError):
    """The model called a tool name that streamshell does not serve."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unsupported call: {name}")


class SpawnError(StreamshellError):
    """The session's process could not be started (the session id is still used up)."""

    def __init__(self, session_id: int, reason: str) -> None:
        super().__init__(f"failed to create exec command session for session id {session_id}: {reason}")
        self.session_id = session_id
        self.reason = reason


class UnknownSessionError(StreamshellError):
    """No session with this id was ever created by this manager."""

    def __init__(self, session_id: int) -> None:
        super().__init__(f"unknown session id {session_id}")
        self.session_id = session_id


class SessionEndedError(StreamshellError):
    """The session existed but is gone: its exit was reported, it was killed or pruned."""

    def __init__(self, session_id: int, how: str) -> None:
        super().__init__(f"session id {session_id} {how}; start a new one with exec_command")
        self.session_id = session_id
        self.how = how


class SessionLostError(SessionEndedError):
    """The session ran on a cluster node that left the cluster: it is gone with the node.

    ``node`` is the node's id; ``last_seen`` says what the client last knew of the session.
    """

    def __init__(self, session_id: int, node: str, last_seen: str) -> None:
        super().__init__(session_id, f"was lost with its node {node}, which left the cluster ({last_seen})")
        self.node = node
        self.last_seen = last_seen


class WriteError(StreamshellError):
    """Input could not be queued for the session's process."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"failed to write to stdin: {reason}")


class NoTerminalError(StreamshellError):
    """The operation needs a PTY but the session runs on pipes (``tty=False``)."""


class ManagerClosedError(StreamshellError):
    """The session manager was closed; it accepts no more calls."""

    def __init__(self) -> None:
        super().__init__("the session manager is closed")


class ExecutionError(StreamshellError):
    """The one-shot ``shell`` tool could not run its command (the reference's ``execution error``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"execution error: {reason}")
        self.reason = reason


class ClusterError(StreamshellError):
    """A Ray cluster could not take the call: a node did not answer, or streamshell's actor could
    not start on a node."""
