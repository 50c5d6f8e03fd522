"""A call's output in the view it asked for, cut to its budget.

``raw`` is the reference's text: the bytes as printed, decoded, middle-truncated
(:meth:`.buffer.Captured.render`). ``text`` renders first (:mod:`.textview`) and truncates the
rendered text, whose size the token count then reports. ``screen`` is the emulator's drawing
(:mod:`.screen`), truncated the same way (a screen is rarely larger than any budget). The
unified profile cuts as current Codex does (:mod:`.unified_truncation`).
"""

from __future__ import annotations

from ..params import RAW_VIEW, SCREEN_VIEW
from ..profiles import Profile
from .buffer import Captured, dropped_marker
from .textview import render_text
from .truncation import TOKEN_BYTES, approx_token_count, truncate_middle
from .unified_truncation import truncate_unified


def _text(captured: Captured) -> str:
    if not captured.dropped:
        return render_text((captured.head + captured.tail).decode("utf-8", "replace"))
    head = render_text(captured.head.decode("utf-8", "replace"))
    tail = render_text(captured.tail.decode("utf-8", "replace"))
    marker = dropped_marker(captured.dropped, new_line=bool(head) and not head.endswith("\n"))
    return head + marker + tail


def render_view(
    view: str, captured: Captured, screen: str | None, tokens: int, profile: Profile
) -> tuple[str, int | None, int]:
    """The output's text in ``view``, cut to ``tokens`` as ``profile`` cuts; the original token
    count when it had to be cut; and the whole (rendered) output's token count.

    ``screen`` is the drawn screen (needed for the screen view only).
    """
    max_bytes = tokens * TOKEN_BYTES
    if view == RAW_VIEW:
        if profile is Profile.UNIFIED:
            text, count = captured.render_unified(tokens)
            return text, count if captured.total > max_bytes else None, count
        text, original = captured.render(max_bytes)
        return text, original, original if original is not None else approx_token_count(captured.total)
    if view == SCREEN_VIEW:
        assert screen is not None
        rendered = screen
    else:
        rendered = _text(captured)
    count = approx_token_count(len(rendered.encode()))
    if profile is Profile.UNIFIED:
        return truncate_unified(rendered, tokens), count if count * TOKEN_BYTES > max_bytes else None, count
    text, original = truncate_middle(rendered, max_bytes)
    return text, original, count
