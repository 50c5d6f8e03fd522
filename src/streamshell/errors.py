"""Errors raised by streamshell.

Every error's ``str()`` is the exact text the model reads as the tool result, so
callers (the dispatcher, the MCP server) pass it through unchanged.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from .profiles import Profile


def _restore(cls: type[StreamshellError], text: str, attributes: dict[str, Any]) -> StreamshellError:
    """An error as :meth:`StreamshellError.__reduce__` saved it: same class, text and attributes."""
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    error.__dict__.update(attributes)
    return error


SHOWN_CHARACTERS = 200
"""At most this many characters of a value an error text quotes (a 100 MB field gives a short error)."""


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``value`` as an error text quotes it: cut to ``limit`` characters with a count of the rest,
    and lone surrogates escaped (``\\ud800``), so the text can always be encoded and sent."""
    if not isinstance(value, str):
        try:
            value = str(value)
        except Exception:  # an int past Python's digit limit, a broken __str__
            value = f"<a {type(value).__name__} that cannot be shown>"
    cut = len(value) - limit
    text = value[:limit] if cut > 0 else value
    text = encodable(text)
    return f"{text}… ({cut} more characters)" if cut > 0 else text


def encodable(text: str) -> str:
    """``text`` with any lone surrogate written as a ``\\uXXXX`` escape: valid Unicode to send."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
    return text


class StreamshellError(Exception):
    """Base class: a call failed and nothing else changed.

    Errors survive pickling with their text and attributes (a cluster's nodes send them to
    the client), although each subclass's constructor takes other arguments than its text.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), str(self), self.__dict__))

    def for_tool(self, tool: str) -> StreamshellError:
        """This error as a call of ``tool`` reports it: the same error, unless its text names the
        tool that failed (current Codex's texts do), which is then ``tool``."""
        return self


class InvalidArgumentsError(StreamshellError):
    """The arguments of a tool call could not be parsed or are out of range."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"failed to parse function arguments: {detail}")
        self.detail = detail


class UnsupportedCallError(StreamshellError):
    """The model called a tool name that streamshell does not serve."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unsupported call: {shown(name)}")


class SpawnError(StreamshellError):
    """The session's process could not be started (the session id is still used up).

    ``os_error`` is the errno behind it, when there is one (the unified text shows it as Rust's
    ``io::Error`` does)."""

    def __init__(
        self,
        session_id: int,
        reason: str,
        *,
        os_error: int | None = None,
        profile: Profile = Profile.REFERENCE,
    ) -> None:
        if profile is Profile.UNIFIED:
            cause = reason if os_error is None else f"{os.strerror(os_error)} (os error {os_error})"
            text = (
                'exec_command failed: CreateProcess { message: "Rejected(\\"Failed to create unified exec '
                f'process: {cause}\\")" }}'
            )
        else:
            text = f"failed to create exec command session for session id {session_id}: {reason}"
        super().__init__(text)
        self.session_id = session_id
        self.reason = reason
        self.os_error = os_error


ADDRESSING_TOOL = "write_stdin"
"""The tool current Codex names in its texts for a session it does not hold: the only one of its tools
that addresses a session. streamshell's other tools that do (``kill_session``) name themselves."""


def _unknown_process(session_id: int, tool: str) -> str:
    """Current Codex's one text for every session it does not hold (never issued, exited, pruned)."""
    return f"{tool} failed: Unknown process id {session_id}"


class _NoSuchProcess(StreamshellError):
    """A call addressed a session the manager does not hold. The unified profile's text names the
    tool that made the call (:data:`ADDRESSING_TOOL` unless told otherwise by :meth:`for_tool`)."""

    def __init__(self, session_id: int, text: str, profile: Profile) -> None:
        unified = profile is Profile.UNIFIED
        super().__init__(_unknown_process(session_id, ADDRESSING_TOOL) if unified else text)
        self.session_id = session_id
        self.profile = profile
        self.tool = ADDRESSING_TOOL

    def for_tool(self, tool: str) -> StreamshellError:
        if self.profile is not Profile.UNIFIED or tool == self.tool:
            return self
        renamed = copy.copy(self)
        renamed.tool = tool
        renamed.args = (_unknown_process(self.session_id, tool),)
        return renamed


class UnknownSessionError(_NoSuchProcess):
    """No session with this id was ever created by this manager."""

    def __init__(self, session_id: int, *, profile: Profile = Profile.REFERENCE) -> None:
        super().__init__(session_id, f"unknown session id {session_id}", profile)


class SessionEndedError(_NoSuchProcess):
    """The session existed but is gone: its exit was reported, it was killed or pruned."""

    def __init__(self, session_id: int, how: str, *, profile: Profile = Profile.REFERENCE) -> None:
        text = f"session id {session_id} {how}; start a new one with exec_command"
        super().__init__(session_id, text, profile)
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


class StdinClosedError(WriteError):
    """Input for a session whose stdin is closed (unified: every session without a terminal)."""

    def __init__(self, session_id: int, *, profile: Profile = Profile.REFERENCE) -> None:
        super().__init__(f"the input of session {session_id} is closed")
        if profile is Profile.UNIFIED:
            self.args = (
                "write_stdin failed: stdin is closed for this session; "
                "rerun exec_command with tty=true to keep stdin open",
            )


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
