"""The result text beyond the reference's two format tests."""

from __future__ import annotations

import signal

import pytest

from helpers import sh
from streamshell import ExecCommandOutput, Exited, Ongoing, SessionManager


async def test_an_exit_status_and_a_signal_read_alike_but_stay_apart(manager: SessionManager) -> None:
    """``exit 130`` and death by SIGINT both read "exited with code 130" (the shell's $?), but a
    Python caller tells them apart: ``signal`` is set only for the death by signal."""
    exited = await manager.exec_command(sh("exit 130"))
    killed = await manager.exec_command(sh("kill -INT $$; sleep 5", shell="/bin/sh"))
    assert exited.exit_status == killed.exit_status == Exited(130)
    assert exited.to_text_output().splitlines()[1] == killed.to_text_output().splitlines()[1]
    assert isinstance(exited.exit_status, Exited) and isinstance(killed.exit_status, Exited)
    assert (exited.exit_status.signal, exited.exit_status.exit_status) == (None, 130)
    assert (killed.exit_status.signal, killed.exit_status.exit_status) == (signal.SIGINT, None)
    assert (repr(exited.exit_status), repr(killed.exit_status)) == (
        "Exited(code=130)",
        "Exited(code=130, signal=SIGINT)",
    )


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
