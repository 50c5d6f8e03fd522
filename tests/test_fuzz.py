"""Fuzzing in the suite: a bounded, derandomized run of each fuzzer (``make fuzz`` runs them longer)."""

from __future__ import annotations

from fuzzing import Tally, fuzz_calls, fuzz_stdio

CALL_EXAMPLES = 150
STDIO_EXAMPLES = 60


def test_handle_function_call_never_raises_hangs_or_sends_bad_text() -> None:
    tally = Tally()
    fuzz_calls(CALL_EXAMPLES, tally)
    assert tally.calls >= CALL_EXAMPLES
    assert (tally.crashes, tally.hangs) == ([], [])


def test_the_stdio_server_answers_every_request_and_lives_on() -> None:
    tally = Tally()
    fuzz_stdio(STDIO_EXAMPLES, tally)
    assert tally.calls >= STDIO_EXAMPLES
    assert (tally.crashes, tally.hangs) == ([], [])
