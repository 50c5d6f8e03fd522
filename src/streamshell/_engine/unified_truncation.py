"""Middle truncation as current Codex's unified exec does it (the ``unified`` profile).

Codex's ``formatted_truncate_text`` with a token policy: when the output's UTF-8 length is
over ``4 * max_tokens`` bytes, keep the first half of that budget and the last half (cut
at character boundaries, nothing preferred), put ``…N tokens truncated…`` between them (N
counts the bytes over budget, 4 to a token, rounded up), and start the text with
``Warning: truncated output (original token count: T)`` and ``Total output lines: L``
(Rust's ``str::lines``: a last line without its newline counts). A zero budget leaves
only the marker.

Like :mod:`.truncation`, it only needs the two ends of the output and its length (plus
its newline count, which the buffer keeps), so a session can cut a gigabyte exactly.
"""

from __future__ import annotations

from .truncation import TOKEN_BYTES, approx_token_count


def line_count(newlines: int, total: int, ends_with_newline: bool) -> int:
    """``str::lines().count()`` of an output of ``total`` bytes with ``newlines`` newlines."""
    return newlines + (1 if total and not ends_with_newline else 0)


def _floor_boundary(data: bytes, at: int) -> int:
    """The last char boundary of ``data`` at or before ``at``."""
    at = min(at, len(data))
    while 0 < at < len(data) and data[at] & 0xC0 == 0x80:
        at -= 1
    return at


def _ceil_boundary(data: bytes, at: int) -> int:
    """The first char boundary of ``data`` at or after ``at``."""
    at = max(at, 0)
    while at < len(data) and data[at] & 0xC0 == 0x80:
        at += 1
    return at


def _header(total: int, lines: int) -> str:
    return (
        f"Warning: truncated output (original token count: {approx_token_count(total)})\n"
        f"Total output lines: {lines}\n\n"
    )


def _marker(total: int, max_bytes: int) -> str:
    return f"…{approx_token_count(total - max_bytes)} tokens truncated…"


def truncate_unified(text: str, max_tokens: int) -> str:
    """``text`` cut to ``max_tokens`` as Codex cuts it (unchanged when it fits)."""
    data = text.encode()
    total, max_bytes = len(data), max_tokens * TOKEN_BYTES
    if total <= max_bytes:
        return text
    header = _header(total, line_count(data.count(b"\n"), total, data.endswith(b"\n")))
    if max_bytes == 0:
        return header + _marker(total, 0)
    left = max_bytes // 2
    prefix_end = _floor_boundary(data, left)
    suffix_start = max(_ceil_boundary(data, total - (max_bytes - left)), prefix_end)
    return header + data[:prefix_end].decode() + _marker(total, max_bytes) + data[suffix_start:].decode()


def truncate_unified_windowed(
    head: bytes, tail: bytes, total: int, newlines: int, max_tokens: int, gap: str
) -> str:
    """The same for an output of ``total`` bytes of which only ``head`` and ``tail`` were kept
    (``newlines`` counts the newlines of all of it). When the budget reaches into what was not
    kept, ``gap`` stands in for that between the two ends."""
    max_bytes = max_tokens * TOKEN_BYTES
    header = _header(total, line_count(newlines, total, tail.endswith(b"\n")))
    if max_bytes == 0:
        return header + _marker(total, 0)
    left, right = max_bytes // 2, max_bytes - max_bytes // 2
    if left > len(head) or right > len(tail):
        return header + head.decode("utf-8", "replace") + gap + tail.decode("utf-8", "replace")
    prefix = head[: _floor_boundary(head, left)].decode("utf-8", "replace")
    suffix = tail[_ceil_boundary(tail, len(tail) - right) :].decode("utf-8", "replace")
    return header + prefix + _marker(total, max_bytes) + suffix
