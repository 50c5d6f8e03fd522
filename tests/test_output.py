"""The result text beyond the reference's two format tests."""

from __future__ import annotations

import pytest

from streamshell import ExecCommandOutput, Exited, Ongoing


def test_statuses_compare_by_value() -> None:
    assert Exited(0) == Exited(0) and Exited(0) != Exited(1)
    assert Ongoing(3) == Ongoing(3) and Ongoing(3) != Exited(3)
    with pytest.raises(AttributeError):
        Exited(0).code = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0, "0.000"), (0.0004, "0.000"), (1.2346, "1.235"), (10.0009, "10.001"), (99.9265, "99.926")],
)
def test_wall_time_is_an_f32_with_three_decimals(seconds: float, text: str) -> None:
    # 99.9265 shows the f32: as an f64 it would print 99.927.
    out = ExecCommandOutput(seconds, Exited(0), None, "")
    assert out.to_text_output().startswith(f"Wall time: {text} seconds\n")


def test_pending_input_is_reported_before_the_output() -> None:
    out = ExecCommandOutput(0.25, Ongoing(1), 5, "x", pending_input_bytes=4096)
    assert out.to_text_output() == (
        "Wall time: 0.250 seconds\n"
        "Process running with session ID 1\n"
        "Warning: truncated output (original token count: 5)\n"
        "Warning: 4096 bytes of input not yet written (the process is not reading its input)\n"
        "Output:\n"
        "x"
    )
