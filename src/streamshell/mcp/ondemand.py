"""The server's session manager, made by the first tool call that needs it.

Answering ``initialize`` needs no session manager: making one in the server's lifespan,
which runs before the first message is read, would put the engine's import (or a cluster's
attach) between a client launching the server and its first answer. The lifespan holds an
:class:`OnDemandBackend` instead, which makes the manager on first use, hands it the exit
listeners subscribed so far, and closes it when the server stops, so every session still
dies with the server.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..profiles import Profile

if TYPE_CHECKING:
    from ..params import ExecCommandParams, WriteStdinParams
    from ..results import ExecCommandOutput, SessionInfo
    from ..tools.backend import ExitListener, OutputCallback, SessionBackend


class OnDemandBackend:
    """A :class:`~streamshell.tools.backend.SessionBackend` that makes the real one (``factory()``,
    which follows ``profile``) on first use and passes every call to it."""

    def __init__(self, factory: Callable[[], SessionBackend], profile: Profile) -> None:
        self._factory = factory
        self._profile = profile
        self._made: SessionBackend | None = None
        self._listeners: list[ExitListener] = []
        self._subscribed: dict[ExitListener, Callable[[], None]] = {}
        """How to unsubscribe each listener from the manager, once it is made."""
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "made" if self._made is not None else "not made yet"
        return f"<OnDemandBackend {state} profile={self._profile.value} {self._made!r}>"

    @property
    def profile(self) -> Profile:
        return self._profile

    def _backend(self) -> SessionBackend:
        if self._made is None:
            if self._closed:
                from ..errors import ManagerClosedError

                raise ManagerClosedError
            made = self._made = self._factory()
            self._subscribed = {each: made.subscribe_exit_notices(each) for each in self._listeners}
        return self._made

    async def exec_command(
        self, params: ExecCommandParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        return await self._backend().exec_command(params, on_output=on_output)

    async def write_stdin(
        self, params: WriteStdinParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        return await self._backend().write_stdin(params, on_output=on_output)

    def list_sessions(self) -> list[SessionInfo] | Awaitable[list[SessionInfo]]:
        return self._backend().list_sessions()

    def subscribe_exit_notices(self, listener: ExitListener) -> Callable[[], None]:
        """``listener`` hears of the exits of the manager's sessions (from when it is made)."""
        self._listeners.append(listener)
        if self._made is not None:
            self._subscribed[listener] = self._made.subscribe_exit_notices(listener)

        def unsubscribe() -> None:
            self._listeners.remove(listener)
            subscribed = self._subscribed.pop(listener, None)
            if subscribed is not None:
                subscribed()

        return unsubscribe

    async def kill_session(self, session_id: int, **limits: Any) -> ExecCommandOutput:
        """``limits``: the manager's (``max_output_tokens``), with its defaults."""
        return await self._backend().kill_session(session_id, **limits)

    async def run(
        self, params: ExecCommandParams, *, timeout: float, on_output: OutputCallback | None = None
    ) -> tuple[ExecCommandOutput, bool]:
        return await self._backend().run(params, timeout=timeout, on_output=on_output)

    async def aclose(self) -> None:
        """Close the manager, if one was made (killing every session); no manager is made after this."""
        self._closed = True
        made, self._made = self._made, None
        if made is not None:
            for unsubscribe in self._subscribed.values():
                unsubscribe()
            self._subscribed.clear()
            await made.aclose()
