"""Middle truncation of tool output to a byte budget, exactly as the reference does it.

The reference (Codex PR #2574, ``truncate_middle``) keeps the start and the end of
the output, prefers to cut at newlines, works on UTF-8 byte lengths and char
boundaries, and puts a ``…N tokens truncated…`` marker in the middle, estimating
4 bytes per token. This module ports that algorithm byte for byte, including its
quirks (the newline preference is skipped when a budget falls inside a
multi-byte character; the fallback after four refinement rounds does not clamp
the suffix to the prefix).

The algorithm only ever looks at the first and the last ``max_bytes`` bytes, so it
is written against a :class:`_Window`: the output's head and tail plus its total
length. That lets a session truncate a gigabyte of output exactly while holding
only ``O(max_bytes)`` of it.
"""

from __future__ import annotations

TOKEN_BYTES = 4
"""The reference's estimate: one token per 4 bytes of UTF-8."""


def approx_token_count(n_bytes: int) -> int:
    """Tokens the reference would report for ``n_bytes`` bytes: ``ceil(n / 4)``."""
    return -(-n_bytes // TOKEN_BYTES)


def _marker(tokens: int) -> str:
    return f"…{tokens} tokens truncated…"


class NotRetainedError(Exception):
    """The truncation needed bytes from the middle, which were not kept."""


class _Window:
    """A UTF-8 byte string of ``length`` bytes, of which only a head and a tail are held.

    For a fully held string, ``head`` and ``tail`` are both the whole string.
    """

    def __init__(self, head: bytes, tail: bytes, length: int) -> None:
        self.head = head
        self.tail = tail
        self.length = length
        self.tail_start = length - len(tail)

    def _byte(self, i: int) -> int:
        if i < len(self.head):
            return self.head[i]
        if i >= self.tail_start:
            return self.tail[i - self.tail_start]
        raise NotRetainedError

    def is_char_boundary(self, i: int) -> bool:
        return i == 0 or i >= self.length or (self._byte(i) & 0xC0) != 0x80

    def rfind_newline(self, end: int) -> int:
        if end > len(self.head):
            raise NotRetainedError
        return self.head.rfind(b"\n", 0, end)

    def find_newline(self, start: int) -> int:
        if start < self.tail_start:
            raise NotRetainedError
        i = self.tail.find(b"\n", start - self.tail_start)
        return i if i < 0 else i + self.tail_start

    def prefix(self, end: int) -> bytes:
        if end > len(self.head):
            raise NotRetainedError
        return self.head[:end]

    def suffix(self, start: int) -> bytes:
        if start < self.tail_start:
            raise NotRetainedError
        return self.tail[start - self.tail_start :]


def _prefix_end(w: _Window, left_budget: int) -> int:
    """End of the kept prefix: just after the last newline within budget, else a char boundary."""
    # Rust's `s.get(..left_budget)` is None when the budget splits a character.
    if left_budget <= w.length and w.is_char_boundary(left_budget):
        i = w.rfind_newline(left_budget)
        if i >= 0:
            return i + 1
    if w.length <= left_budget:
        return w.length
    end = left_budget
    while end > 0 and not w.is_char_boundary(end):
        end -= 1
    return end


def _suffix_start(w: _Window, right_budget: int) -> int:
    """Start of the kept suffix: just after the first newline within budget, else a char boundary."""
    start = max(w.length - right_budget, 0)
    if w.is_char_boundary(start):
        i = w.find_newline(start)
        if i >= 0:
            return i + 1
    idx = start
    while idx < w.length and not w.is_char_boundary(idx):
        idx += 1
    return idx


def _join(w: _Window, prefix_end: int, marker: str, suffix_start: int, errors: str) -> str:
    head = w.prefix(prefix_end).decode("utf-8", errors)
    tail = w.suffix(suffix_start).decode("utf-8", errors)
    return f"{head}{marker}\n{tail}"


def _cut(w: _Window, max_bytes: int, marker: str) -> tuple[int, int] | None:
    """Where the kept prefix ends and the kept suffix starts around ``marker``; None when the
    marker alone fills the cap."""
    keep_budget = max_bytes - len(marker.encode())
    if keep_budget <= 0:
        return None
    left_budget = keep_budget // 2
    return _prefix_end(w, left_budget), _suffix_start(w, keep_budget - left_budget)


def _truncate_window(w: _Window, max_bytes: int, errors: str) -> str:
    """The reference's algorithm for a string longer than ``max_bytes``: refine the marker's
    token count until it describes what it replaces (at most four rounds)."""
    est_tokens = approx_token_count(w.length)
    if max_bytes == 0:
        return _marker(est_tokens)
    guess_tokens = est_tokens
    for _ in range(4):
        marker = _marker(guess_tokens)
        cut = _cut(w, max_bytes, marker)
        if cut is None:
            return _marker(est_tokens)
        prefix_end, suffix_start = cut[0], max(cut)
        new_tokens = approx_token_count(suffix_start - prefix_end)
        if new_tokens == guess_tokens:
            return _join(w, prefix_end, marker, suffix_start, errors)
        guess_tokens = new_tokens
    # The reference's fallback: the last guess, and no clamping of the suffix to the prefix.
    marker = _marker(guess_tokens)
    cut = _cut(w, max_bytes, marker)
    if cut is None:
        return _marker(est_tokens)
    return _join(w, cut[0], marker, cut[1], errors)


def truncate_middle(s: str, max_bytes: int) -> tuple[str, int | None]:
    """Cut the middle of ``s`` so that it fits ``max_bytes`` UTF-8 bytes, as the reference does.

    Returns the (possibly) truncated string and, when it was truncated, the
    original token estimate ``ceil(len(s.encode()) / 4)``. For very small caps the
    result is the bare marker, which may exceed ``max_bytes``.
    """
    if max_bytes < 0:
        raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
    data = s.encode("utf-8", "surrogatepass")
    if len(data) <= max_bytes:
        return s, None
    text = _truncate_window(_Window(data, data, len(data)), max_bytes, "surrogatepass")
    return text, approx_token_count(len(data))


def truncate_windowed(head: bytes, tail: bytes, length: int, max_bytes: int) -> str:
    """Truncate an output of ``length`` bytes of which only ``head`` and ``tail`` were kept.

    The result equals ``truncate_middle`` of the whole output (when it is valid
    UTF-8) as long as head and tail each hold more than ``max_bytes`` bytes;
    otherwise, or when the whole output would fit, :class:`NotRetainedError` is raised.
    """
    if length <= max_bytes:
        raise NotRetainedError
    return _truncate_window(_Window(head, tail, length), max_bytes, "replace")
