"""``wait_for``: does the output a call returns match the pattern yet?

The pattern is searched in the call's output as it grows, decoded, with escape sequences and
control characters removed and ``\\r\\n`` or a lone ``\\r`` ending a line
(:class:`.textview.EscapeStripper`), so colours and progress bars do not hide a match and a
match may span chunks.

Guards against patterns that take long (:class:`MatchWatch`):

- each search covers only the text that arrived since the last one and the :data:`LOOKBACK`
  characters before it (a match up to that long is found wherever the chunks were cut);
- a search runs at most once per pass of the event loop, so the chunks one reader wakeup
  reads are searched together, once;
- a call's searches take at most :data:`MATCH_SHARE` of its time so far, after a first
  :data:`SEARCH_TIMEOUT`: when they have taken more, the next search waits until the share
  allows it (it then covers everything that arrived meanwhile: nothing is skipped; only when
  more than :data:`MAX_PENDING` characters pile up does it run at once);
- a search never runs past the call's deadline, and one search that takes longer than
  :data:`SEARCH_TIMEOUT` (the ``regex`` module's timeout) abandons the pattern for the rest of
  the call, which then ends as if no pattern had been given; the result says so.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import time
from collections.abc import Callable

import regex

from .textview import EscapeStripper

LOOKBACK = 4096
"""Characters before the new text that a search covers again."""

SEARCH_TIMEOUT = 0.05
"""Seconds one search may take."""

MATCH_SHARE = 1 / 10
"""At most this share of a call's time (after a first :data:`SEARCH_TIMEOUT`) goes to its searches."""

MAX_PENDING = 4 << 20
"""Characters waiting for a search held back by :data:`MATCH_SHARE`; beyond this, it runs at once
(a flood: its cost is then bounded by the output read, and by :data:`SEARCH_TIMEOUT`)."""

log = logging.getLogger(__name__)


class OutputMatcher:
    """A call's ``wait_for`` pattern and the output it has yet to search (see :class:`MatchWatch`
    for when searches run)."""

    def __init__(self, pattern: regex.Pattern[str]) -> None:
        self._pattern = pattern
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._stripper = EscapeStripper()
        self._text = ""
        """The last characters already searched (at most LOOKBACK + 1), context for the next search."""
        self._trimmed = False
        self._pending: list[str] = []
        self.pending = 0
        """Characters not searched yet."""
        self.searches = 0
        self.matched = False
        self.abandoned = False
        """The pattern ran longer than :data:`SEARCH_TIMEOUT` once and was given up."""

    def __repr__(self) -> str:
        state = "matched" if self.matched else "abandoned" if self.abandoned else "searching"
        return f"<OutputMatcher {self._pattern.pattern!r} {state} pending={self.pending}>"

    @property
    def done(self) -> bool:
        """Matched or abandoned: no more searching."""
        return self.matched or self.abandoned

    def add(self, data: bytes) -> None:
        """The next output, for the next search."""
        if self.done:
            return
        new = self._stripper.feed(self._decoder.decode(data))
        if new:
            self._pending.append(new)
            self.pending += len(new)

    def search(self, timeout: float) -> bool:
        """Search what was added since the last search (with the text before it), for at most
        ``timeout`` seconds; True once it has matched. A search cut short by a ``timeout`` below
        :data:`SEARCH_TIMEOUT` (the call's deadline) gives nothing up."""
        if self.done or not self._pending:
            return self.matched
        new = "".join(self._pending)
        text = self._text + new
        # Once the text was cut to its last LOOKBACK + 1 characters, text[0] is only context (the
        # end of a line that started earlier): a match, ``^`` above all, must not start there.
        pos = 1 if self._trimmed else 0
        self.searches += 1
        try:
            found = self._pattern.search(text, pos, timeout=timeout)
        except TimeoutError:
            if timeout >= SEARCH_TIMEOUT:
                log.info("wait_for %r: gave up, a search took over %.3f s", self._pattern.pattern, timeout)
                self.abandoned = True
            self._pending = [new]
            return False
        self._pending.clear()
        self.pending = 0
        self._trimmed = self._trimmed or len(text) > LOOKBACK + 1
        self._text = text[-(LOOKBACK + 1) :]
        self.matched = found is not None
        return self.matched


class MatchWatch:
    """Runs one call's searches (see the module's docstring for when), and calls ``on_match``
    once the output matched, or ``on_abandon`` once the pattern was given up. ``deadline`` is the
    call's end (the event loop's clock)."""

    def __init__(
        self,
        matcher: OutputMatcher,
        deadline: float,
        on_match: Callable[[], None],
        on_abandon: Callable[[], None],
    ) -> None:
        self._matcher = matcher
        self._deadline = deadline
        self._on_match = on_match
        self._on_abandon = on_abandon
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()
        self.spent = 0.0
        """Seconds this call's searches took."""
        self._handle: asyncio.Handle | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<MatchWatch {self._matcher!r} spent={self.spent * 1000:.1f}ms>"

    def output_arrived(self, data: bytes) -> None:
        """An output listener: the chunk waits for the next search, which is scheduled."""
        self._matcher.add(data)
        if self._closed or not self._matcher.pending:
            return
        if isinstance(self._handle, asyncio.TimerHandle) and self._matcher.pending > MAX_PENDING:
            self._handle.cancel()  # a flood: search it now rather than hold it until the share allows
            self._handle = None
        if self._handle is None:
            self._schedule()

    def search_now(self) -> bool:
        """Search what has arrived (the output unread when the call began) at once; True on a match."""
        return self._search()

    def close(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        # The share allows the next search once spent <= SEARCH_TIMEOUT + MATCH_SHARE * elapsed.
        allowed = self._started + (self.spent - SEARCH_TIMEOUT) / MATCH_SHARE
        if allowed <= self._loop.time() or self._matcher.pending > MAX_PENDING:
            self._handle = self._loop.call_soon(self._run)
        elif allowed < self._deadline:
            self._handle = self._loop.call_at(allowed, self._run)

    def _run(self) -> None:
        self._handle = None
        if self._closed:
            return
        if self._search():
            self._on_match()
        # Output that arrives later schedules the next search; what a search cut short at the
        # deadline left is for nobody (the call ends).

    def _search(self) -> bool:
        remaining = self._deadline - self._loop.time()
        if self._matcher.done or remaining <= 0:
            return self._matcher.matched
        started = time.perf_counter()
        try:
            matched = self._matcher.search(min(SEARCH_TIMEOUT, remaining))
        finally:
            self.spent += time.perf_counter() - started
        if self._matcher.abandoned:
            self._on_abandon()
        return matched
