"""truncate_middle against the reference's recorded outputs, and the windowed variant against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamshell import truncate_middle
from streamshell._engine.buffer import Captured
from streamshell._engine.truncation import NotRetainedError, approx_token_count, truncate_windowed

DATA = Path(__file__).parent / "data"


def reference_output(index: int) -> str:
    recorded = json.loads((DATA / "codex-0.29.0-calls_main.json").read_text())
    return recorded[index]["output_text"].split("\nOutput:\n", 1)[1]


SEQ = "".join(f"{i}\r\n" for i in range(1, 100_001))


def test_seq_100_tokens_matches_reference() -> None:
    text, original = truncate_middle(SEQ, 400)
    assert (text, original) == (reference_output(11), 172224)


def test_seq_0_tokens_is_the_bare_marker() -> None:
    assert truncate_middle(SEQ, 0) == (reference_output(24), 172224)
    assert reference_output(24) == "…172224 tokens truncated…"


def test_default_budget_matches_reference() -> None:
    """`seq 1 20000` with the default 10,000 tokens, as the reference returned it (calls_defaults.json)."""
    recorded = json.loads((DATA / "codex-0.29.0-calls_defaults.json").read_text())
    expected = recorded[0]["output_text"].split("\nOutput:\n", 1)[1]
    assert "original token count: 32224" in recorded[0]["output_text"]
    assert truncate_middle("".join(f"{i}\r\n" for i in range(1, 20_001)), 40_000) == (expected, 32224)


def test_no_newline_matches_reference() -> None:
    assert truncate_middle("x" * 100, 40) == (reference_output(35), 25)


def test_fits_is_returned_unchanged() -> None:
    assert truncate_middle("héllo", 6) == ("héllo", None)
    assert truncate_middle("", 0) == ("", None)


def test_counts_utf8_bytes_and_cuts_on_char_boundaries() -> None:
    s = "é" * 50  # 100 bytes
    text, original = truncate_middle(s, 40)
    assert original == 25
    assert "\ufffd" not in text
    assert len(text.encode()) <= 40


def test_newline_preference_is_skipped_when_the_budget_splits_a_char() -> None:
    # Rust's `s.get(..n)` is None off a char boundary, so no newline is looked for.
    s = "a\n" + "é" * 40
    text, _ = truncate_middle(s, 40)
    assert text.startswith("a\n") and not text.startswith("a\n…")


def test_negative_cap_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        truncate_middle("abc", -1)


texts = st.text(alphabet=st.sampled_from("ab\n\r é€𝄞"), min_size=0, max_size=400)


@settings(max_examples=400, deadline=None)
@given(s=texts, cap=st.integers(min_value=0, max_value=200))
def test_windowed_equals_whole_when_windows_exceed_cap(s: str, cap: int) -> None:
    data = s.encode()
    if len(data) <= cap:
        return
    window = cap + 4
    text = truncate_windowed(data[:window], data[-window:], len(data), cap)
    assert text == truncate_middle(s, cap)[0]


@settings(max_examples=200, deadline=None)
@given(s=texts, cap=st.integers(min_value=0, max_value=200), keep=st.integers(min_value=0, max_value=60))
def test_captured_render_is_exact_or_says_what_was_dropped(s: str, cap: int, keep: int) -> None:
    data = s.encode()
    if len(data) <= 2 * keep:
        return
    captured = Captured(data[:keep], data[len(data) - keep :], len(data) - 2 * keep)
    text, original = captured.render(cap)
    assert original == approx_token_count(len(data))
    if keep >= cap + 4 or "bytes dropped" not in text:
        assert text == truncate_middle(s, cap)[0]
    else:  # the gap shows: what was kept, around one line saying how much was not
        head, rest = text.split("…", 1)
        assert rest.startswith(
            f"{len(data) - 2 * keep} bytes dropped: more output than the session buffer holds…\n"
        )
        assert head.rstrip("\n") == data[:keep].decode("utf-8", "replace").rstrip("\n")
        assert rest.split("…\n", 1)[1] == data[len(data) - keep :].decode("utf-8", "replace")


def test_windowed_raises_when_the_middle_is_needed() -> None:
    data = b"x" * 1000
    with pytest.raises(NotRetainedError):
        truncate_windowed(data[:10], data[-10:], len(data), 500)


def test_render_shows_a_gap_the_cap_would_have_shown() -> None:
    captured = Captured(b"head\n", b"tail\n", 1000)
    text, original = captured.render(10_000)
    assert text == "head\n…1000 bytes dropped: more output than the session buffer holds…\ntail\n"
    assert original == approx_token_count(1010)
