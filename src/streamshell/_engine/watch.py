"""Watching a session: its screen as it is now, then its output as it comes, its resizes, its exit.

What a person's live view reads (the UI's terminal, ``streamshell attach``). A :class:`Watch`
is an async iterator of :data:`WatchEvent`; the session calls its hooks on the event loop, and
it never slows the session: output piles up for a slow reader at most :data:`MAX_PENDING`
characters, past which what is pending is thrown away and the next event redraws the screen
from the session's newest output (a terminal redrawn is better than a terminal that skipped
part of its input). The first screen is drawn exactly by a terminal emulator (``snapshot``);
a redraw for a reader that fell behind during a flood replays the newest output on a cleared
screen instead (``replay``: no emulator run on the loop each time the reader lags).
Watching changes nothing for the session's calls: no output is taken from them.
"""

from __future__ import annotations

import asyncio
import codecs
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

MAX_PENDING = 1 << 20
"""Characters of output waiting for a watcher before it gets a fresh screen instead."""


@dataclass(frozen=True)
class ScreenShot:
    """The session's screen now: escape sequences that draw it on a ``rows`` x ``cols`` terminal."""

    rows: int
    cols: int
    text: str


@dataclass(frozen=True)
class OutputText:
    """Output, as the session's terminal received it (decoded; a pipe's newlines as ``\\r\\n``)."""

    text: str


@dataclass(frozen=True)
class Resized:
    rows: int
    cols: int


@dataclass(frozen=True)
class SessionExit:
    """The session's process exited, its output complete; ``code`` as ``Exited.code``."""

    code: int


WatchEvent = ScreenShot | OutputText | Resized | SessionExit

_RESYNC = object()
"""In the queue: a fresh screen goes here (output was thrown away for a slow reader)."""


class Watch:
    """One watcher of one session (``async for event in watch``; :meth:`aclose` stops watching).

    ``snapshot`` draws the session's screen now; ``replay`` redraws it cheaply (see above);
    ``unsubscribe`` detaches the hooks. The iteration ends after the session is closed and every
    event was read.
    """

    def __init__(
        self,
        session_id: int,
        snapshot: Callable[[], ScreenShot],
        replay: Callable[[], ScreenShot],
        *,
        pipes: bool,
        max_pending: int | None = None,
    ) -> None:
        self.session_id = session_id
        self._replay = replay
        self._pipes = pipes
        self._max_pending = MAX_PENDING if max_pending is None else max_pending
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._queue: deque[WatchEvent | object] = deque([snapshot()])
        self._pending = 0
        self._ended = False
        self._wakeup: asyncio.Future[None] | None = None
        self.unsubscribe: Callable[[], None] = lambda: None

    def __repr__(self) -> str:
        return f"<Watch session={self.session_id} queued={len(self._queue)} pending={self._pending}>"

    # ----- hooks (the session calls these on the loop) ---------------------------------------

    def output(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if not text:
            return
        if self._pipes:
            text = text.replace("\n", "\r\n")
        self._pending += len(text)
        if self._pending > self._max_pending:
            exits = [e for e in self._queue if isinstance(e, SessionExit)]
            self._queue.clear()
            self._queue.extend([_RESYNC, *exits])
            self._pending = 0
        elif self._queue and isinstance(self._queue[-1], OutputText):
            self._queue[-1] = OutputText(self._queue[-1].text + text)
        else:
            self._queue.append(OutputText(text))
        self._wake()

    def resized(self, rows: int, cols: int) -> None:
        self._queue.append(Resized(rows, cols))
        self._wake()

    def exited(self, code: int) -> None:
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._queue.append(OutputText(tail))
        self._queue.append(SessionExit(code))
        self._wake()

    def closed(self) -> None:
        self._ended = True
        self._wake()

    # ----- the reader's side -----------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent:
        while not self._queue:
            if self._ended:
                raise StopAsyncIteration
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        event = self._queue.popleft()
        if event is _RESYNC:  # the screen now holds the output queued behind it too
            self._queue = deque(e for e in self._queue if not isinstance(e, OutputText))
            self._pending = 0
            self._decoder.reset()  # the redraw holds any character cut short at its end
            return self._replay()
        if isinstance(event, OutputText):
            self._pending -= len(event.text)
        assert isinstance(event, ScreenShot | OutputText | Resized | SessionExit)
        return event

    async def aclose(self) -> None:
        """Stop watching (idempotent)."""
        self._ended = True
        self._queue.clear()
        self.unsubscribe()
        self._wake()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
