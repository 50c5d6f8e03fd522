"""``wait_for``: does the output a call returns match the pattern yet?

The pattern is searched in the call's output as it grows, decoded, with escape sequences and
control characters removed and ``\\r\\n`` or a lone ``\\r`` ending a line
(:class:`.textview.EscapeStripper`), so colours and progress bars do not hide a match and a
match may span chunks.

Guards against patterns that take exponential time: each search covers only the new text and
the :data:`LOOKBACK` characters before it (a match up to that long is found wherever the chunks
were cut), and runs under a :data:`SEARCH_TIMEOUT` (the ``regex`` module's timeout). A pattern
that exceeds it is abandoned for the rest of the call, which then ends as if no pattern had
been given; the result says so.
"""

from __future__ import annotations

import codecs
import logging

import regex

from .textview import EscapeStripper

LOOKBACK = 4096
"""Characters before the new text that a search covers again."""

SEARCH_TIMEOUT = 0.05
"""Seconds one search may take."""

log = logging.getLogger(__name__)


class OutputMatcher:
    """Feeds a call's output to a compiled ``wait_for`` pattern."""

    def __init__(self, pattern: regex.Pattern[str]) -> None:
        self._pattern = pattern
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._stripper = EscapeStripper()
        self._text = ""
        self._trimmed = False
        self.matched = False
        self.abandoned = False
        """The pattern ran longer than :data:`SEARCH_TIMEOUT` once and was given up."""

    def __repr__(self) -> str:
        state = "matched" if self.matched else "abandoned" if self.abandoned else "searching"
        return f"<OutputMatcher {self._pattern.pattern!r} {state}>"

    def feed(self, data: bytes) -> bool:
        """Search ``data`` (the next output) with what came before it; True once it has matched."""
        if self.matched or self.abandoned:
            return self.matched
        new = self._stripper.feed(self._decoder.decode(data))
        if not new:
            return False
        text = self._text + new
        # Once the text was cut to its last LOOKBACK + 1 characters, text[0] is only context (the
        # end of a line that started earlier): a match, ``^`` above all, must not start there.
        pos = 1 if self._trimmed else 0
        try:
            found = self._pattern.search(text, pos, timeout=SEARCH_TIMEOUT)
        except TimeoutError:
            log.info("wait_for %r: gave up, a search took over %.3f s", self._pattern.pattern, SEARCH_TIMEOUT)
            self.abandoned = True
            return False
        self._trimmed = self._trimmed or len(text) > LOOKBACK + 1
        self._text = text[-(LOOKBACK + 1) :]
        self.matched = found is not None
        return self.matched
