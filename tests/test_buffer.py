"""OutputBuffer keeps head and tail within its window and counts what it drops."""

from __future__ import annotations

import pytest

from streamshell._engine.buffer import OutputBuffer


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


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        (b"ab", b""),
        (b"ab\xc3", b"\xc3"),
        (b"ab\xe2\x82", b"\xe2\x82"),
        (b"ab\xf0\x9f\x98", b"\xf0\x9f\x98"),
        (b"ab\xc3\xa9", b""),
        (b"ab\xf0\x9f\x98\x80", b""),
        (b"ab\xff", b""),
        (b"\x80\x80\x80\x80", b""),
    ],
)
def test_take_can_keep_a_character_cut_short(data: bytes, kept: bytes) -> None:
    buf = OutputBuffer(100)
    buf.append(data)
    captured = buf.take(keep_incomplete_char=True)
    assert captured.head == data[: len(data) - len(kept)]
    assert buf.take().head == kept


def test_keeping_a_cut_character_works_on_the_tail_too() -> None:
    buf = OutputBuffer(2)
    buf.append(b"abcdefg\xc3")
    captured = buf.take(keep_incomplete_char=True)
    assert (captured.head, captured.tail, captured.dropped) == (b"ab", b"g", 4)
    assert buf.take().head == b"\xc3"
