"""OutputBuffer keeps head and tail within its window and counts what it drops."""

from __future__ import annotations

import pytest

from streamshell import OutputBuffer


def test_everything_fits() -> None:
    buf = OutputBuffer(10)
    for chunk in (b"abc", b"defgh", b"ij", b"klmn"):
        buf.append(chunk)
    assert len(buf) == 14
    captured = buf.take()
    assert (captured.head + captured.tail, captured.dropped) == (b"abcdefghijklmn", 0)
    assert len(buf) == 0 and buf.take().total == 0


def test_middle_is_dropped_and_counted() -> None:
    buf = OutputBuffer(4)
    for i in range(10):
        buf.append(bytes([65 + i]) * 3)  # AAABBBCCC...
    captured = buf.take()
    assert captured.head == b"AAAB"
    assert captured.tail == b"IJJJ"
    assert captured.dropped == 30 - 8
    assert captured.total == 30


def test_growing_the_window_keeps_contiguous_output() -> None:
    buf = OutputBuffer(2)
    buf.append(b"abcd")
    buf.window = 10
    buf.append(b"efgh")
    captured = buf.take()
    assert (captured.head, captured.tail, captured.dropped) == (b"abcdefgh", b"", 0)


def test_growing_after_a_drop_keeps_the_head() -> None:
    buf = OutputBuffer(2)
    buf.append(b"abcdefg")
    buf.window = 4
    buf.append(b"hij")
    captured = buf.take()
    assert captured.head == b"ab"
    assert captured.tail == b"ghij"
    assert captured.dropped == 4


def test_clear_forgets() -> None:
    buf = OutputBuffer(2)
    buf.append(b"abcdef")
    buf.clear()
    assert buf.take().total == 0


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        OutputBuffer(0)
