"""A tool call's live output as MCP progress notifications, sent while the call waits."""

from __future__ import annotations

import anyio
from mcp.server.session import ServerSession

from ..tools.backlog import OutputBacklog

MAX_PENDING = 64 * 1024
"""Characters of output that wait while a notification is in flight; a flood keeps its newest part."""


class ProgressStream:
    """Forwards a call's output as MCP progress notifications while the call waits.

    The session's reader calls :meth:`feed` synchronously; :meth:`run` sends what
    accumulated, one notification at a time, in order. While a send is in flight
    new output is coalesced in an :class:`OutputBacklog` of ``max_pending`` characters
    (the call's result still has the whole, truncated output).
    """

    def __init__(self, session: ServerSession, max_pending: int = MAX_PENDING) -> None:
        self._session = session
        self._backlog = OutputBacklog(max_pending)
        self._sent = 0
        self._ready = anyio.Event()
        self._done = False

    def __repr__(self) -> str:
        return f"<ProgressStream sent={self._sent} pending={bool(self._backlog)} done={self._done}>"

    def feed(self, text: str) -> None:
        self._backlog.feed(text)
        self._ready.set()

    def finish(self) -> None:
        self._done = True
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready = anyio.Event()
            message = self._backlog.take()
            if message:
                self._sent += len(message)
                await self._session.report_progress(self._sent, None, message)
            if self._done and not self._backlog:
                return
