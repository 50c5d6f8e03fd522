"""The ``text`` view: terminal output as a person reads it, one line at a time.

Escape sequences (ECMA-48 CSI, OSC, DCS and the other ``ESC`` forms) and control characters
are removed; within each line, carriage returns, backspaces and the line-editing sequences
progress bars use (erase in line, cursor column, cursor left/right) are applied as a terminal
applies them, so a progress bar becomes its final frame; ``\\r\\n`` becomes ``\\n``. Lines are
never wrapped, and sequences that move between lines are ignored: for full-screen programs
there is the ``screen`` view (:mod:`.screen`).

A hand-written pass rather than a terminal emulator's parser: it renders a megabyte in tens of
milliseconds, where pyte's per-character parser takes seconds.

:class:`EscapeStripper` gives the same text as a stream (without the line model), for
``wait_for`` to search output as it arrives.
"""

from __future__ import annotations

import re

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


def _number(params: str, default: int) -> int:
    first = params.split(";", 1)[0]
    return int(first) if first.isdigit() and int(first) > 0 else default


def _render_line(line: str) -> str:
    """One line through a column model: text overwrites, ``\\r`` and ``\\b`` move the cursor."""
    if not _EDITS.search(line):
        return CONTROLS.sub("", ESCAPE.sub("", line)).replace("\x1b", "")
    cells: list[str] = []
    col = 0
    pos = 0

    def write(text: str) -> None:
        nonlocal col
        if len(cells) < col:
            cells.extend(" " * (col - len(cells)))
        cells[col : col + len(text)] = text
        col += len(text)

    for m in _TOKEN.finditer(line):
        if m.start() > pos:
            write(line[pos : m.start()].replace("\x1b", ""))
        pos = m.end()
        if m.group("cr"):
            col = 0
        elif m.group("bs"):
            col = max(0, col - 1)
        elif m.group("csi"):
            col = _csi(cells, col, m.group("params"), m.group("final"))
    if pos < len(line):
        write(line[pos:].replace("\x1b", ""))
    return "".join(cells).rstrip(" ")


def _csi(cells: list[str], col: int, params: str, final: str) -> int:
    """Apply a line-editing CSI sequence to ``cells``; return the new column."""
    if final == "K":
        mode = _number(params, 0) if params else 0
        if mode == 0:
            del cells[col:]
        elif mode == 1:
            cells[: col + 1] = " " * min(col + 1, len(cells))
        else:
            cells[:] = " " * len(cells)
    elif final == "G":
        return _number(params, 1) - 1
    elif final == "C":
        return col + _number(params, 1)
    elif final == "D":
        return max(0, col - _number(params, 1))
    return col


def render_text(text: str) -> str:
    """``text`` (decoded terminal output) as a person reads it."""
    text = text.replace("\r\n", "\n")
    if not _SPECIAL.search(text) and "\x1b" not in text:
        return text
    return "\n".join(_render_line(line) for line in text.split("\n"))


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
