"""The ``text`` view: terminal output as a person reads it, one line at a time.

Escape sequences (ECMA-48 CSI, OSC, DCS and the other ``ESC`` forms) and control characters
are removed; within each line, carriage returns, backspaces and the line-editing sequences
progress bars use (erase in line, cursor column, cursor left/right) are applied as a terminal
applies them, so a progress bar becomes its final frame; ``\\r\\n`` becomes ``\\n``. Lines are
never wrapped, and sequences that move between lines are ignored: for full-screen programs
there is the ``screen`` view (:mod:`.screen`).

A hand-written pass rather than a terminal emulator's parser: it renders a megabyte in tens of
milliseconds, where pyte's per-character parser takes seconds. Its cost is linear in the text,
whatever the text asks for (:class:`_Line`): a cursor move reaches no further right than the
terminal's last column or the end of the line's text, whichever is further (as a terminal
clamps it), and erasing costs nothing until the line is drawn, once.

:class:`EscapeStripper` gives the same text as a stream (without the line model), for
``wait_for`` to search output as it arrives.
"""

from __future__ import annotations

import re

from wcwidth import wcwidth

from .spawn import COLS

_CSI = r"\x1b\[(?P<params>[0-?]*)[ -/]*(?P<final>[@-~])"
"""CSI: colours, cursor moves, erasing, modes."""
_OTHER_ESCAPES = "|".join(
    (
        r"\x9b[0-?]*[ -/]*[@-~]",  # CSI as one C1 character
        r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)",  # OSC: titles, hyperlinks, shell integration
        r"\x1b[PX^_][^\x1b]*\x1b\\",  # DCS, SOS, PM, APC
        r"\x1b[ -/]*[0-~]",  # every other escape: charsets, keypad modes, save/restore cursor
    )
)
_CONTROLS = r"[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]"
"""Control characters with nothing to show: everything but tab, newline, CR, backspace and ESC."""

ESCAPE = re.compile(f"{_CSI}|{_OTHER_ESCAPES}")
"""One complete escape sequence."""
CONTROLS = re.compile(_CONTROLS)

_INCOMPLETE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*|[PX^_][^\x1b]*\x1b?|[ -/]*)?\Z")
"""An escape sequence cut short at the end of the text (more of it is still to come)."""

_EDITS = re.compile(r"[\r\b]|\x1b\[[0-9;]*[KGCD]")
"""What makes a line need the column model (else removing escapes is enough)."""

_TOKEN = re.compile(
    f"(?P<csi>{_CSI})|(?P<esc>{_OTHER_ESCAPES})|(?P<cr>\r)|(?P<bs>\x08)|(?P<ctl>{_CONTROLS}|\x1b)"
)
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")

MAX_PARAMETER = 65535
"""A CSI parameter larger than this counts as this (a terminal's column and row numbers are smaller)."""

WIDE_TAIL = ""
"""The cell a wide character's right half occupies (draws as nothing: the character covers it)."""


def _number(params: str, default: int) -> int:
    """The first parameter of a CSI sequence (``default`` when it is absent or 0), at most
    :data:`MAX_PARAMETER`."""
    first = params.split(";", 1)[0].lstrip("0")
    if not first.isdigit():  # absent, 0, or not a number
        return default
    return min(int(first), MAX_PARAMETER) if len(first) <= 5 else MAX_PARAMETER


class _Line:
    """One line's cells, as a terminal of ``width`` columns that never wraps would hold them.

    Each cell holds a character (with the combining marks that follow it), a space, or
    :data:`WIDE_TAIL` right after a wide character. Invariant: a :data:`WIDE_TAIL` always
    follows the wide character it belongs to; writing over either half turns the other half
    into a space, as terminals do.

    Linear cost: cells are never removed. Erasing only records an event ("columns up to N"
    or "from N on", numbered by ``epoch``); each cell carries the epoch it was written in,
    and drawing the line hides the cells an event came after, in one pass over the cells
    and the events. Padding to reach the cursor happens only up to the last column, so the
    cells never outnumber the characters written plus ``width``. ``touched`` counts the
    cells written or drawn (and events recorded): the work done.
    """

    __slots__ = ("_cells", "_col", "_epoch", "_erased_from", "_erased_through", "_last", "_stamps", "touched")

    def __init__(self, width: int) -> None:
        self._cells: list[str] = []
        self._stamps: list[int] = []
        self._col = 0
        self._epoch = 0
        self._erased_through: list[tuple[int, int]] = []
        """(column, epoch): ``ESC[1K`` (and ``ESC[2K``, through the last column) erased up to it."""
        self._erased_from: list[tuple[int, int]] = []
        """(column, epoch): ``ESC[K`` erased from it on."""
        self._last = max(width, 1) - 1
        self.touched = 0

    def move_to(self, col: int) -> None:
        """Put the cursor at ``col``, clamped to the line (a terminal's first and last columns, or
        the end of a longer line's text)."""
        self._col = max(0, min(col, max(self._last, len(self._cells))))

    def carriage_return(self) -> None:
        self._col = 0

    def backspace(self) -> None:
        self._col = max(0, self._col - 1)

    def csi(self, params: str, final: str) -> None:
        """Apply a line-editing CSI sequence (erase in line, cursor column, forward, back)."""
        if final == "K":
            mode = _number(params, 0) if params else 0
            if mode == 0:
                self._erase(self._erased_from, self._col)
            elif mode == 1:
                self._erase(self._erased_through, self._col)
            elif mode == 2:
                self._erase(self._erased_through, MAX_PARAMETER + self._last + len(self._cells))
        elif final == "G":
            self.move_to(_number(params, 1) - 1)
        elif final == "C":
            self.move_to(self._col + _number(params, 1))
        elif final == "D":
            self.move_to(self._col - _number(params, 1))

    def _erase(self, events: list[tuple[int, int]], col: int) -> None:
        events.append((col, self._epoch))
        self._epoch += 1
        self.touched += 1

    def write(self, text: str) -> None:
        """Text at the cursor, overwriting what is there; the cursor moves past it. Wide characters
        take two cells, zero-width ones join the character before them."""
        if text.isascii():
            self._put(text)
            return
        narrow = 0  # where the run of one-cell characters not yet written starts
        for i, char in enumerate(text):
            width = wcwidth(char)
            if width == 1 or width < 0:  # -1: no width of its own (a tab, a C1 control): one cell, as printed
                continue
            if i > narrow:
                self._put(text[narrow:i])
            narrow = i + 1
            if width == 0:
                self._combine(char)
            else:
                self._put(char, wide=True)
        if narrow < len(text):
            self._put(text[narrow:])

    def _put(self, text: str, *, wide: bool = False) -> None:
        """Write ``text``, one cell per character (or one wide character, two cells) at the cursor."""
        cells, stamps = self._cells, self._stamps
        start = self._col
        if start > len(cells):
            pad = start - len(cells)
            cells.extend(" " * pad)
            stamps.extend([self._epoch] * pad)
            self.touched += pad
        span = 2 if wide else len(text)
        end = start + span
        if start < len(cells) and cells[start] == WIDE_TAIL:  # its wide character loses a half
            cells[start - 1] = " "
            stamps[start - 1] = self._epoch
        if end < len(cells) and cells[end] == WIDE_TAIL:
            cells[end] = " "
            stamps[end] = self._epoch
        cells[start:end] = (text, WIDE_TAIL) if wide else text
        stamps[start:end] = [self._epoch] * span
        self._col = end
        self.touched += span

    def _combine(self, mark: str) -> None:
        """A zero-width character joins the character before the cursor (at column 0: its own cell)."""
        at = min(self._col, len(self._cells)) - 1
        if at >= 0 and self._cells[at] == WIDE_TAIL:
            at -= 1
        if at < 0:
            self._put(mark)
            return
        self._cells[at] += mark
        self.touched += 1

    def draw(self) -> str:
        """The line as shown: erased cells blank, trailing blanks trimmed."""
        cells = self._cells
        n = len(cells)
        self.touched += n
        if not n or not (self._erased_through or self._erased_from):
            return "".join(cells).rstrip(" ")
        hidden = self._erased_epochs(n)
        stamps = self._stamps
        shown: list[str] = []
        for i, cell in enumerate(cells):
            if cell == WIDE_TAIL:
                # A wide character half erased is erased whole.
                if hidden[i] >= stamps[i] or hidden[i - 1] >= stamps[i - 1]:
                    shown[-1] = " "
                    cell = " "
            elif hidden[i] >= stamps[i]:
                cell = " "
            shown.append(cell)
        return "".join(shown).rstrip(" ")

    def _erased_epochs(self, n: int) -> list[int]:
        """For each of the ``n`` cells, the latest epoch in which an erase covered it (-1: never)."""
        self.touched += n + len(self._erased_through) + len(self._erased_from)
        through = [-1] * n  # "erase up to column c" covers every column <= c: a running max from the right
        for col, epoch in self._erased_through:
            i = min(col, n - 1)
            through[i] = max(through[i], epoch)
        starts = [-1] * n  # "erase from column c" covers every column >= c: a running max from the left
        for col, epoch in self._erased_from:
            if col < n:
                starts[col] = max(starts[col], epoch)
        running = -1
        for i in range(n - 1, -1, -1):
            running = through[i] = max(running, through[i])
        running = -1
        for i in range(n):
            running = max(running, starts[i])
            through[i] = max(through[i], running)
        return through


class TextRenderer:
    """Renders decoded terminal output for a terminal ``width`` columns wide; ``cells_touched``
    counts the work done so far (cells written or drawn, erase events), which stays linear in
    the text rendered."""

    def __init__(self, width: int = COLS) -> None:
        self.width = width
        self.cells_touched = 0

    def __repr__(self) -> str:
        return f"<TextRenderer width={self.width} cells_touched={self.cells_touched}>"

    def render(self, text: str) -> str:
        """``text`` as a person reads it."""
        text = text.replace("\r\n", "\n")
        if not _SPECIAL.search(text) and "\x1b" not in text:
            return text
        return "\n".join(self._render_line(line) for line in text.split("\n"))

    def _render_line(self, line: str) -> str:
        """One line through the column model: text overwrites, ``\\r`` and ``\\b`` move the cursor."""
        if not _EDITS.search(line):
            return CONTROLS.sub("", ESCAPE.sub("", line)).replace("\x1b", "")
        model = _Line(self.width)
        pos = 0
        for m in _TOKEN.finditer(line):
            if m.start() > pos:
                model.write(line[pos : m.start()].replace("\x1b", ""))
            pos = m.end()
            if m.group("cr"):
                model.carriage_return()
            elif m.group("bs"):
                model.backspace()
            elif m.group("csi"):
                model.csi(m.group("params"), m.group("final"))
        if pos < len(line):
            model.write(line[pos:].replace("\x1b", ""))
        drawn = model.draw()
        self.cells_touched += model.touched
        return drawn


def render_text(text: str, width: int = COLS) -> str:
    """``text`` (decoded terminal output) as a person reads it on a terminal ``width`` columns wide."""
    return TextRenderer(width).render(text)


class EscapeStripper:
    """Decoded output in, the same without escape sequences and control characters out, chunk by
    chunk: a sequence cut between two chunks is held back until it is complete. ``\\r\\n`` and
    a lone ``\\r`` both end a line (``\\n``), so ``^`` finds a progress bar's frames."""

    MAX_HELD = 4096
    """An unfinished sequence longer than this is given up on (and dropped)."""

    def __init__(self) -> None:
        self._held = ""

    def __repr__(self) -> str:
        return f"<EscapeStripper held={len(self._held)}>"

    def feed(self, text: str) -> str:
        text = self._held + text
        self._held = ""
        cut = _INCOMPLETE.search(text, max(0, len(text) - self.MAX_HELD))
        if cut is not None:
            text, self._held = text[: cut.start()], text[cut.start() :]
        if text.endswith("\r"):
            text, self._held = text[:-1], "\r" + self._held
        text = CONTROLS.sub("", ESCAPE.sub("", text)).replace("\x1b", "")
        return text.replace("\r\n", "\n").replace("\r", "\n").replace("\b", "")
