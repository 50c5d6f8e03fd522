"""A call's output in the view it asked for, cut to its budget.

Every view becomes a :class:`.buffer.Captured` first, and is cut by the one truncation path
(:meth:`.buffer.Captured.render`, or :meth:`~.buffer.Captured.render_unified` for the unified
profile): ``raw`` is the bytes as printed (the reference's text); ``text`` renders the kept head
and tail (:mod:`.textview`); ``screen`` is the emulator's drawing (:mod:`.screen`).

Token counts: ``raw`` counts the bytes written; ``text`` counts the rendered text when the whole
output was kept, and when the session's buffer dropped the middle of a very large output (never
seen, so never rendered) it counts the rendered head and tail plus the dropped bytes as written;
``screen`` counts the drawing.

A view that cannot be drawn (a bug, or memory running out) must not cost the call its output:
the call falls back to the raw view and says so (:attr:`RenderedView.fallback`).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from ..params import RAW_VIEW, SCREEN_VIEW
from ..profiles import Profile
from .buffer import Captured
from .spawn import COLS
from .textview import render_text
from .truncation import TOKEN_BYTES, approx_token_count

log = logging.getLogger(__name__)


class RenderedView(NamedTuple):
    """What a call returns of its output."""

    text: str
    """The output in its view, cut to the budget."""
    original: int | None
    """The whole output's token count when the text had to be cut."""
    token_count: int
    """The whole output's token count (in its view; see the module's docstring)."""
    fallback: str | None = None
    """Why the asked-for view could not be drawn (the text is then the raw view's)."""


def _rendered_text(captured: Captured, width: int) -> Captured:
    """The text view's head and tail, each rendered; the dropped middle stays counted as bytes."""
    if not captured.dropped:
        text = render_text((captured.head + captured.tail).decode("utf-8", "replace"), width)
        return Captured(text.encode(), b"", 0, captured.newlines)
    head = render_text(captured.head.decode("utf-8", "replace"), width).encode()
    tail = render_text(captured.tail.decode("utf-8", "replace"), width).encode()
    return Captured(head, tail, captured.dropped, captured.newlines)


def _cut(captured: Captured, tokens: int, profile: Profile) -> tuple[str, int | None, int]:
    if profile is Profile.UNIFIED:
        text, count = captured.render_unified(tokens)
        return text, count if captured.total > tokens * TOKEN_BYTES else None, count
    text, original = captured.render(tokens * TOKEN_BYTES)
    return text, original, original if original is not None else approx_token_count(captured.total)


def render_view(
    view: str,
    captured: Captured,
    screen: str | Exception | None,
    tokens: int,
    profile: Profile,
    *,
    width: int = COLS,
) -> RenderedView:
    """The output in ``view``, cut to ``tokens`` as ``profile`` cuts.

    ``screen`` is the drawn screen (the screen view only), or what drawing it raised; ``width``
    the terminal's columns (the text view's cursor moves stop at its last one).
    """
    if view == RAW_VIEW:
        return RenderedView(*_cut(captured, tokens, profile))
    try:
        if view == SCREEN_VIEW:
            if isinstance(screen, Exception):
                raise screen
            assert screen is not None, "the screen view needs the drawn screen"
            shown = Captured(screen.encode(), b"", 0, screen.count("\n"))
        else:
            shown = _rendered_text(captured, width)
    except Exception as e:  # MemoryError included: the raw output is still there to return
        log.exception("the %s view could not be drawn; returning the raw output", view)
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        return RenderedView(*_cut(captured, tokens, profile), fallback=f'view "{view}" failed ({reason})')
    return RenderedView(*_cut(shown, tokens, profile))
