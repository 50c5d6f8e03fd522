"""What the tools run on: the calls a session manager answers.

:class:`~streamshell.SessionManager` is one; a manager spread over a cluster
(:class:`streamshell.cluster.RaySessionManager`) is another.
The tools' handlers, the dispatcher and everything above them depend on this protocol
only, so they work unchanged on either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from .._engine.exit_listeners import ExitListener
from ..params import ExecCommandParams, WriteStdinParams
from ..profiles import Profile
from ..results import ExecCommandOutput, SessionInfo

OutputCallback = Callable[[str], None]
"""Receives a call's output as decoded text while the call waits."""


class SessionBackend(Protocol):
    @property
    def profile(self) -> Profile:
        """Whose tools, texts and rules the backend follows (arguments are parsed by its rules)."""
        ...

    async def exec_command(
        self, params: ExecCommandParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput: ...

    async def write_stdin(
        self, params: WriteStdinParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput: ...

    def list_sessions(self) -> list[SessionInfo] | Awaitable[list[SessionInfo]]:
        """The sessions: a list (a local manager), or an awaitable of one (a cluster's manager
        asks its nodes)."""
        ...

    def subscribe_exit_notices(self, listener: ExitListener) -> Callable[[], None]: ...

    async def kill_session(self, session_id: int, *, max_output_tokens: int = ...) -> ExecCommandOutput: ...

    async def run(
        self, params: ExecCommandParams, *, timeout: float, on_output: OutputCallback | None = None
    ) -> tuple[ExecCommandOutput, bool]: ...

    async def aclose(self) -> None: ...
