"""The ``screen`` view: a session's terminal as a terminal emulator (pyte) draws it.

A session gets its emulator the first time a call asks for the screen (``exec_command`` with
``view="screen"``: from the program's first byte; a later ``write_stdin``: from the output not
yet returned), and keeps it, following ``resize``. Sessions that never ask pay nothing.

The emulator holds the screen, not the history. Output is handed to it only when a screen is
drawn (pyte parses about half a megabyte per second, in Python, on the event loop), and at
most :data:`MAX_BACKLOG` bytes of it: when more piled up since the last drawing, only the
newest part is parsed, from a line start. What scrolled away has no effect on the screen,
except modes set long ago (colours, scroll regions), which a full-screen program sets again
whenever it redraws.
"""

from __future__ import annotations

import pyte

MAX_BACKLOG = 64 << 10
"""Bytes of output kept for the emulator between two drawings; older ones are skipped."""


class TerminalScreen:
    """A ``rows`` x ``cols`` emulator fed with a session's output."""

    def __init__(self, rows: int, cols: int) -> None:
        self._screen = pyte.Screen(cols, rows)
        self._stream = pyte.ByteStream(self._screen)
        self._backlog = bytearray()
        self._skipped = False

    def __repr__(self) -> str:
        return f"<TerminalScreen {self._screen.lines}x{self._screen.columns} backlog={len(self._backlog)}B>"

    def feed(self, data: bytes) -> None:
        """Output for the screen: kept (bounded) until the next drawing."""
        self._backlog += data
        excess = len(self._backlog) - MAX_BACKLOG
        if excess > 0:
            del self._backlog[:excess]
            self._skipped = True

    def resize(self, rows: int, cols: int) -> None:
        self._catch_up()
        self._screen.resize(rows, cols)

    def render(self) -> str:
        """The screen as text: a header line with the size and cursor position (1-based), then one
        line per row, trailing spaces trimmed, trailing empty rows left out."""
        self._catch_up()
        screen = self._screen
        rows = [line.rstrip() for line in screen.display]
        while rows and not rows[-1]:
            rows.pop()
        cursor = screen.cursor
        header = (
            f"[screen {screen.lines}x{screen.columns}, cursor at row {cursor.y + 1}, column {cursor.x + 1}]"
        )
        return "\n".join([header, *rows]) + "\n"

    def _catch_up(self) -> None:
        data = bytes(self._backlog)
        self._backlog.clear()
        if self._skipped:
            # Resume at a line start, with a parser that forgets the sequence it was in.
            data = data[data.find(b"\n") + 1 :]
            self._stream = pyte.ByteStream(self._screen)
            self._skipped = False
        if data:
            self._stream.feed(data)
