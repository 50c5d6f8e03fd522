"""The reference's own five tests (codex-rs/core/src/exec_command/session_manager.rs), ported."""

from __future__ import annotations

from pathlib import Path

from helpers import wait_until
from streamshell import (
    ExecCommandOutput,
    ExecCommandParams,
    Exited,
    Ongoing,
    SessionManager,
    WriteStdinParams,
    truncate_middle,
)


def extract_monotonic_numbers(s: str) -> list[int]:
    # Our generator increments by 100; ignore spurious fragments.
    return [int(line) for line in s.splitlines() if line.isdigit() and int(line) % 100 == 0]


async def test_session_manager_streams_and_truncates_from_now(tmp_path: Path) -> None:
    """Output "from now on" (the reference's semantics, kept with keep_unread_output=False)
    and middle truncation of a never-ending process's output.

    The reference slept 4 s while the counter ran; here the counter also records its last
    value in a file, and the test waits until it has advanced as far as 4 s would take it."""
    progress = tmp_path / "count"
    async with SessionManager(keep_unread_output=False) as session_manager:
        cmd = f"""python3 - <<'PY'
import sys, time
count = 0
while True:
    print(count)
    sys.stdout.flush()
    open({str(progress)!r}, "w").write(str(count))
    count += 100
    time.sleep(0.1)
PY"""
        params = ExecCommandParams(
            cmd=cmd,
            yield_time_ms=3_000,
            max_output_tokens=1_000,  # large enough to avoid truncation here
            shell="/bin/bash",
            login=False,
        )
        initial_output = await session_manager.exec_command(params)
        assert isinstance(initial_output.exit_status, Ongoing), "expected ongoing session"
        session_id = initial_output.exit_status.session_id

        first_nums = extract_monotonic_numbers(initial_output.output)
        assert first_nums, "expected some output from first window"
        first_max = max(first_nums)

        # Let the counter progress while we're not reading (the reference slept ~4 s: ~40 ticks).
        def counted() -> int:
            text = progress.read_text() if progress.exists() else ""
            return int(text) if text.isdigit() else 0

        await wait_until(lambda: counted() >= first_max + 2000, what="the counter to advance")

        second = await session_manager.write_stdin(
            WriteStdinParams(session_id=session_id, chars="", yield_time_ms=3_000, max_output_tokens=16)
        )
        assert second.original_token_count is not None
        cap_bytes = 16 * 4
        assert len(second.output.encode()) <= cap_bytes
        assert "tokens truncated" in second.output and "…" in second.output, second.output

        second_nums = extract_monotonic_numbers(second.output)
        assert second_nums, "expected some numeric output from second window"
        second_min = min(second_nums)
        # The counter passed first_max + 2000 before this window began.
        assert second_min >= first_max + 2000, f"second_min={second_min} first_max={first_max}"


def test_to_text_output_exited_no_truncation() -> None:
    out = ExecCommandOutput(wall_time=1.234, exit_status=Exited(0), original_token_count=None, output="hello")
    expected = "Wall time: 1.234 seconds\nProcess exited with code 0\nOutput:\nhello"
    assert out.to_text_output() == expected


def test_to_text_output_ongoing_with_truncation() -> None:
    out = ExecCommandOutput(wall_time=0.5, exit_status=Ongoing(42), original_token_count=1000, output="abc")
    expected = (
        "Wall time: 0.500 seconds\n"
        "Process running with session ID 42\n"
        "Warning: truncated output (original token count: 1000)\n"
        "Output:\n"
        "abc"
    )
    assert out.to_text_output() == expected


def test_truncate_middle_no_newlines_fallback() -> None:
    s = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out, original = truncate_middle(s, 16)
    # For very small caps, we return the full, untruncated marker, even if it exceeds the cap.
    assert out == "…16 tokens truncated…"
    # Original string length is 62 bytes => ceil(62/4) = 16 tokens.
    assert original == 16


def test_truncate_middle_prefers_newline_boundaries() -> None:
    s = "".join(f"{i:03}\n" for i in range(1, 21))
    assert len(s) == 80
    assert truncate_middle(s, 64) == (
        "001\n002\n003\n004\n…12 tokens truncated…\n017\n018\n019\n020\n",
        20,
    )
