"""A session's output between two calls, kept in bounded memory.

The reference only saw output produced while a call was waiting; anything printed
between calls was lost. A session here always collects, and a call takes what
was collected. To stay bounded whatever the process prints, the buffer keeps the
first ``window`` bytes (head) and the last ``window`` bytes (tail) and only
counts the bytes in between. Because middle truncation only looks at the first
and last ``max_bytes`` bytes, a window of at least ``max_bytes + 4`` still gives
the exact truncated text and the exact original token count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .truncation import NotRetainedError, approx_token_count, truncate_middle, truncate_windowed
from .unified_truncation import truncate_unified, truncate_unified_windowed

WINDOW_SLACK = 4
"""Bytes kept beyond the call's cap so a char boundary next to the cut can be found."""


def dropped_marker(dropped: int, *, new_line: bool) -> str:
    """The line that stands in for ``dropped`` bytes that were not kept (``new_line``: end the
    line the text before it left open)."""
    line = f"…{dropped} bytes dropped: more output than the session buffer holds…\n"
    return "\n" + line if new_line else line


@dataclass(frozen=True)
class Captured:
    """Output taken from a buffer: ``head``, then ``dropped`` unkept bytes, then ``tail``."""

    head: bytes
    tail: bytes
    dropped: int
    newlines: int = 0
    """Newlines in all of it, kept or not (the unified profile counts lines)."""

    @property
    def total(self) -> int:
        """Bytes the process wrote, kept or not."""
        return len(self.head) + self.dropped + len(self.tail)

    def render(self, max_bytes: int) -> tuple[str, int | None]:
        """The text for the model: decoded, cut to ``max_bytes``, with the original token count if cut.

        When every byte was kept this is exactly the reference's
        ``truncate_middle(from_utf8_lossy(output))``. When the middle was not kept
        but lies inside what truncation removes anyway, the text is the same as if
        it had been kept. Only when the cap is larger than what was kept does the
        gap show: head, a one-line marker that says how many bytes were dropped,
        and tail (at most the two windows, however small the cap).
        """
        if not self.dropped:
            text, original = truncate_middle((self.head + self.tail).decode("utf-8", "replace"), max_bytes)
            return text, None if original is None else approx_token_count(self.total)
        try:
            text = truncate_windowed(self.head, self.tail, self.total, max_bytes)
        except NotRetainedError:
            head = self.head.decode("utf-8", "replace")
            tail = self.tail.decode("utf-8", "replace")
            mid_line = bool(head) and not head.endswith("\n")
            text = f"{head}{dropped_marker(self.dropped, new_line=mid_line)}{tail}"
        return text, approx_token_count(self.total)

    def render_unified(self, max_tokens: int) -> tuple[str, int]:
        """The text for the model as current Codex cuts it, and the whole output's token count.

        With every byte kept this is exactly Codex's ``formatted_truncate_text`` of the lossily
        decoded output; otherwise the count is of the bytes written and, when the budget is
        larger than what was kept, the dropped-bytes line stands in for the middle."""
        if not self.dropped:
            text = (self.head + self.tail).decode("utf-8", "replace")
            return truncate_unified(text, max_tokens), approx_token_count(len(text.encode()))
        head_open = bool(self.head) and not self.head.endswith(b"\n")
        gap = dropped_marker(self.dropped, new_line=head_open)
        text = truncate_unified_windowed(self.head, self.tail, self.total, self.newlines, max_tokens, gap)
        return text, approx_token_count(self.total)


class OutputBuffer:
    """Head, dropped-byte count and tail of the output since the last :meth:`take`."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self._window = window
        self._head = bytearray()
        self._tail: deque[bytes] | None = None
        """Made when the head is full (most sessions never fill it): even an empty deque holds a
        block of 64 slots (BENCHMARKS.md, concurrency row)."""
        self._tail_len = 0
        self._dropped = 0
        self._newlines = 0

    @property
    def window(self) -> int:
        """Bytes kept at each end."""
        return self._window

    @window.setter
    def window(self, window: int) -> None:
        """Resize the ends; growing keeps everything already held, shrinking drops from the tail's start."""
        self._window = window
        if not self._dropped:
            self._refill_head()
        self._trim_tail()

    def __len__(self) -> int:
        """Bytes written since the last take, kept or not."""
        return len(self._head) + self._dropped + self._tail_len

    def append(self, data: bytes) -> None:
        """Add output; the head fills first, then the tail, whose oldest bytes give way."""
        self._newlines += data.count(b"\n")
        room = self._window - len(self._head)
        if room > 0 and not self._tail:
            self._head += data[:room]
            data = data[room:]
        if data:
            if self._tail is None:
                self._tail = deque()
            self._tail.append(data)
            self._tail_len += len(data)
            self._trim_tail()

    def peek(self) -> Captured:
        """Everything since the last take, which stays held."""
        return Captured(bytes(self._head), b"".join(self._tail or ()), self._dropped, self._newlines)

    def take(self, *, keep_incomplete_char: bool = False) -> Captured:
        """Everything since the last take; the buffer starts over empty, or holding only the
        bytes of a character cut short at the end (``keep_incomplete_char``)."""
        captured = self.peek()
        self.clear()
        if not keep_incomplete_char:
            return captured
        last = captured.tail or captured.head
        cut = _incomplete_utf8_suffix(last)
        if not cut:
            return captured
        self.append(last[-cut:])
        if captured.tail:
            return Captured(captured.head, captured.tail[:-cut], captured.dropped, captured.newlines)
        return Captured(captured.head[:-cut], b"", captured.dropped, captured.newlines)

    def clear(self) -> None:
        """Forget everything held (the reference's "only output from now on")."""
        self._head.clear()
        self._tail = None
        self._tail_len = 0
        self._dropped = 0
        self._newlines = 0

    def _refill_head(self) -> None:
        """With nothing dropped head and tail are contiguous: move tail bytes into a grown head."""
        tail = self._tail
        while tail and len(self._head) < self._window:
            chunk = tail.popleft()
            room = self._window - len(self._head)
            self._head += chunk[:room]
            if len(chunk) > room:
                tail.appendleft(chunk[room:])
            self._tail_len -= min(room, len(chunk))

    def _trim_tail(self) -> None:
        excess = self._tail_len - self._window
        tail = self._tail
        while excess > 0 and tail:  # (bytes in excess are in the tail)
            chunk = tail.popleft()
            if len(chunk) > excess:
                tail.appendleft(chunk[excess:])
                cut = excess
            else:
                cut = len(chunk)
            self._tail_len -= cut
            self._dropped += cut
            excess -= cut


def _incomplete_utf8_suffix(data: bytes) -> int:
    """How many bytes at the end of ``data`` start a UTF-8 character whose rest is missing (0-3)."""
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead byte
            continue
        needed = 2 if 0xC0 <= byte < 0xE0 else 3 if 0xE0 <= byte < 0xF0 else 4 if 0xF0 <= byte < 0xF8 else 1
        return back if needed > back else 0
    return 0
