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

Two things pyte does not do as a terminal does, done here (:class:`_Screen`):

- A malformed sequence (``ESC[1;2A``, ``ESC[5J``, a parameter with a non-ASCII digit) makes pyte
  raise; a terminal ignores it, and so does this emulator.
- The alternate screen (``ESC[?1049h`` / ``?47h`` / ``?1047h``), which full-screen programs
  (``less``, ``vim``, ``top``) draw on: leaving it (``ESC[?1049l`` / ``?47l`` / ``?1047l``) shows the
  main screen again as it was, as xterm does (``?1049`` also saves and restores the cursor,
  ``?1048`` only that). The alternate screen starts blank each time.

A person watching a session (the UI's terminal, ``streamshell attach``) first gets its screen
as it is now: an emulator made for the occasion, fed with the session's :class:`RecentOutput`,
drawn as escape sequences (:meth:`TerminalScreen.ansi`) for their own terminal to show.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import pyte
from pyte import graphics
from pyte.screens import StaticDefaultDict
from wcwidth import wcwidth

MAX_BACKLOG = 64 << 10
"""Bytes of output kept for the emulator between two drawings; older ones are skipped."""

SWITCHES_SCREEN = frozenset({47, 1047, 1049})
"""Private modes that show the alternate screen when set and the main one again when reset."""
SAVES_CURSOR = frozenset({1048, 1049})
"""Private modes that save the cursor when set and restore it when reset."""

log = logging.getLogger(__name__)


def _tolerant(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` (a screen's handler of one kind of sequence), ignoring a sequence it raises on."""

    @functools.wraps(handler)
    def tolerant(screen: pyte.Screen, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(screen, *args, **kwargs)
        except Exception as e:  # pyte raises on malformed sequences; a terminal ignores them
            log.debug("screen: ignored %s%r: %s: %s", name, args, type(e).__name__, e)
            return None

    return tolerant


class _Screen(pyte.Screen):
    """pyte's screen with xterm's alternate screen, ignoring what it cannot handle."""

    def __init__(self, columns: int, lines: int) -> None:
        self._main: dict[int, StaticDefaultDict[int, pyte.screens.Char]] | None = None
        """The main screen's rows while the alternate screen is shown."""
        super().__init__(columns, lines)

    def reset(self) -> None:
        self._main = None
        super().reset()

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        super().set_mode(*modes, **kwargs)
        if kwargs.get("private"):
            for mode in modes:
                if mode in SAVES_CURSOR:
                    self.save_cursor()
                if mode in SWITCHES_SCREEN:
                    self._switch(alternate=True)

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        super().reset_mode(*modes, **kwargs)
        if kwargs.get("private"):
            for mode in modes:
                if mode in SWITCHES_SCREEN:
                    self._switch(alternate=False)
                if mode in SAVES_CURSOR:
                    self.restore_cursor()

    def _switch(self, *, alternate: bool) -> None:
        if alternate == (self._main is not None):
            return
        if alternate:
            self._main = {y: _copy(row) for y, row in self.buffer.items()}
            self.buffer.clear()
        else:
            assert self._main is not None
            self.buffer.clear()
            self.buffer.update(self._main)
            self._main = None
        self.dirty.update(range(self.lines))

    @property
    def alternate(self) -> bool:
        """Whether the alternate screen is shown."""
        return self._main is not None

    def rows(self) -> list[str]:
        """The screen's rows as text. (pyte's ``display`` raises on a wide character's right half
        whose left half was overwritten; that half is a blank here.)"""
        drawn = []
        for y in range(self.lines):
            row = self.buffer[y]
            cells = []
            covered = False  # the previous cell holds a wide character, which covers this one
            for x in range(self.columns):
                data = row[x].data
                if not data:
                    cells.append("" if covered else " ")
                    covered = False
                    continue
                cells.append(data)
                covered = wcwidth(data[0]) == 2
            drawn.append("".join(cells))
        return drawn


for _event in pyte.Stream.events:
    setattr(_Screen, _event, _tolerant(_event, getattr(_Screen, _event)))


class _Stream(pyte.ByteStream):
    """pyte's byte stream, skipping a sequence its parser raises on (it starts over after it)."""

    def _send_to_parser(self, data: str) -> bool | None:
        try:
            return super()._send_to_parser(data)
        except Exception as e:  # the parser was reset: it takes plain text again
            log.debug("screen: ignored a sequence pyte could not parse: %s: %s", type(e).__name__, e)
            return True


def _copy(row: StaticDefaultDict[int, pyte.screens.Char]) -> StaticDefaultDict[int, pyte.screens.Char]:
    copied: StaticDefaultDict[int, pyte.screens.Char] = StaticDefaultDict(row.default)
    copied.update(row)
    return copied


class TerminalScreen:
    """A ``rows`` x ``cols`` emulator fed with a session's output."""

    def __init__(self, rows: int, cols: int) -> None:
        self._screen = _Screen(cols, rows)
        self._stream = _Stream(self._screen)
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
        self._guarded(self._catch_up)
        self._screen.resize(rows, cols)

    def render(self) -> str:
        """The screen as text: a header line with the size and cursor position (1-based), then one
        line per row, trailing spaces trimmed, trailing empty rows left out.

        Should the emulator fail all the same, it raises, and the emulator starts over blank (the
        next drawing shows what comes after)."""
        drawn: str = self._guarded(self._draw)
        return drawn

    def _draw(self) -> str:
        self._catch_up()
        screen = self._screen
        rows = [row.rstrip() for row in screen.rows()]
        while rows and not rows[-1]:
            rows.pop()
        cursor = screen.cursor
        header = (
            f"[screen {screen.lines}x{screen.columns}, cursor at row {cursor.y + 1}, column {cursor.x + 1}]"
        )
        return "\n".join([header, *rows]) + "\n"

    def _guarded(self, step: Callable[[], Any]) -> Any:
        try:
            return step()
        except Exception:
            screen = self._screen
            self._screen = _Screen(screen.columns, screen.lines)
            self._stream = _Stream(self._screen)
            self._backlog.clear()
            raise

    def ansi(self) -> str:
        """Escape sequences that draw the screen on a terminal of the same size: the screen cleared,
        each row's characters with their colours and attributes, the cursor where it is. (A wide
        character's right half whose left half was overwritten is a blank, as in :meth:`render`.)"""
        self._guarded(self._catch_up)
        screen = self._screen
        out = ["\x1b[0m\x1b[H\x1b[2J"]
        for y in range(screen.lines):
            row = screen.buffer[y]
            cells = [row[x] for x in range(screen.columns)]
            while cells and cells[-1].data in (" ", "") and _sgr(cells[-1]) == _PLAIN:
                cells.pop()
            if not cells:
                continue
            out.append(f"\x1b[{y + 1};1H")
            current = _PLAIN
            covered = False  # the previous cell holds a wide character, which covers this one
            for cell in cells:
                data = cell.data
                if not data and covered:
                    covered = False
                    continue
                sgr = _sgr(cell)
                if sgr != current:
                    out.append(sgr)
                    current = sgr
                out.append(data or " ")
                covered = bool(data) and wcwidth(data[0]) == 2
            if current != _PLAIN:
                out.append(_PLAIN)
        out.append(f"\x1b[{screen.cursor.y + 1};{screen.cursor.x + 1}H")
        out.append("\x1b[?25l" if screen.cursor.hidden else "\x1b[?25h")
        return "".join(out)

    def _catch_up(self) -> None:
        data = bytes(self._backlog)
        self._backlog.clear()
        if self._skipped:
            # Resume at a line start, with a parser that forgets the sequence it was in.
            data = data[data.find(b"\n") + 1 :]
            self._stream = _Stream(self._screen)
            self._skipped = False
        if data:
            self._stream.feed(data)


class RecentOutput:
    """A session's newest output, for the screen a watcher sees first: at least ``limit`` bytes
    (whole chunks are dropped from the front), each chunk appended as it is, no copy."""

    def __init__(self, limit: int = MAX_BACKLOG) -> None:
        self._limit = limit
        self._chunks: deque[bytes] | None = None
        """Made with the first output: even an empty deque holds a block of 64 slots, and many
        sessions sit silent (BENCHMARKS.md, concurrency row)."""
        self._size = 0
        self._trimmed = False

    def __repr__(self) -> str:
        return f"<RecentOutput {self._size}B trimmed={self._trimmed}>"

    def append(self, data: bytes) -> None:
        chunks = self._chunks
        if chunks is None:
            chunks = self._chunks = deque()
        chunks.append(data)
        self._size += len(data)
        while self._size - len(chunks[0]) >= self._limit:
            self._size -= len(chunks.popleft())
            self._trimmed = True

    def screen(self, rows: int, cols: int, *, pipes: bool = False) -> TerminalScreen:
        """An emulator of ``rows`` x ``cols`` fed with the newest output (:meth:`newest`)."""
        screen = TerminalScreen(rows, cols)
        screen.feed(self.newest(pipes=pipes))
        return screen

    def replay(self, *, pipes: bool = False) -> str:
        """A cleared screen, then the newest output (:meth:`newest`) for a terminal to draw itself."""
        return "\x1b[0m\x1b[H\x1b[2J" + self.newest(pipes=pipes).decode("utf-8", "replace")

    def newest(self, *, pipes: bool = False) -> bytes:
        """The newest ``limit`` bytes of output, from a line start when older output was left out;
        a pipe's bare newlines as a terminal shows them."""
        data = b"".join(self._chunks or ())[-self._limit :]
        if self._trimmed or len(data) < self._size:
            data = data[data.find(b"\n") + 1 :]
        return data.replace(b"\n", b"\r\n") if pipes else data


_PLAIN = "\x1b[0m"

_FG_CODES = {name: code for code, name in {**graphics.FG_ANSI, **graphics.FG_AIXTERM}.items()}
_BG_CODES = {name: code for code, name in {**graphics.BG_ANSI, **graphics.BG_AIXTERM}.items()}
_FLAGS = (("bold", 1), ("italics", 3), ("underscore", 4), ("blink", 5), ("reverse", 7), ("strikethrough", 9))


def _colour(name: str, codes: dict[str, int], extended: int) -> list[str]:
    if name == "default":
        return []
    if name in codes:
        return [str(codes[name])]
    try:  # 256 and true colours: pyte keeps them as "rrggbb"
        r, g, b = (int(name[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return []
    return [str(extended), "2", str(r), str(g), str(b)]


def _sgr(cell: pyte.screens.Char) -> str:
    """The select-graphic-rendition sequence for a cell's colours and attributes (from a reset)."""
    params = ["0"]
    params += [str(code) for name, code in _FLAGS if getattr(cell, name)]
    params += _colour(cell.fg, _FG_CODES, 38) + _colour(cell.bg, _BG_CODES, 48)
    return f"\x1b[{';'.join(params)}m"
