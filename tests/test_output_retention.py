"""No output is lost: between calls, at start-up, at exit; memory stays bounded however much is printed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import sh, start_and_wait_for_file, wait_until
from streamshell import (
    Exited,
    Ongoing,
    SessionManager,
    WriteStdinParams,
    truncate_middle,
)
from streamshell._engine.truncation import approx_token_count

pytestmark = [pytest.mark.spawn_paths(), pytest.mark.sandboxes()]


def seq_output(n: int) -> str:
    return "".join(f"{i}\r\n" for i in range(1, n + 1))


async def test_output_printed_between_calls_is_returned_by_the_next(
    manager: SessionManager, tmp_path: Path
) -> None:
    flag = tmp_path / "printed"
    sid = await start_and_wait_for_file(
        manager, f"seq 1 500; touch {flag}; exec cat", flag, printed=len(seq_output(500))
    )
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
    assert out.exit_status == Ongoing(sid)
    assert out.output == seq_output(500)
    again = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
    assert again.output == ""


async def test_live_output_starts_with_what_was_printed_between_calls(
    manager: SessionManager, tmp_path: Path
) -> None:
    """``on_output`` sees exactly what the call returns: first the output printed while no call
    waited, then what arrives during the call."""
    flag = tmp_path / "printed"
    sid = await start_and_wait_for_file(manager, f"echo before; touch {flag}; read x; echo after", flag)
    streamed: list[str] = []
    out = await manager.write_stdin(
        WriteStdinParams(sid, "go\n", yield_time_ms=30_000), on_output=streamed.append
    )
    assert out.exit_status == Exited(0)
    assert out.output == "before\r\ngo\r\nafter\r\n"
    assert "".join(streamed) == out.output
    assert streamed[0] == "before\r\n"


async def test_keep_unread_output_false_restores_output_from_now_on(tmp_path: Path) -> None:
    flag = tmp_path / "printed"
    async with SessionManager(keep_unread_output=False) as manager:
        sid = await start_and_wait_for_file(
            manager, f"seq 1 500; touch {flag}; exec cat", flag, printed=len(seq_output(500))
        )
        out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
        assert out.output == ""
        echoed = (await manager.write_stdin(WriteStdinParams(sid, "x\n", yield_time_ms=200))).output
        while echoed.count("x\r\n") < 2:  # the terminal's echo, then cat's copy
            echoed += (await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=200))).output
        assert echoed == "x\r\nx\r\n"


async def test_exit_between_calls_is_reported_with_its_output(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("echo bye; exit 5", yield_time_ms=0))
    assert isinstance(out.exit_status, Ongoing)
    sid = out.exit_status.session_id
    await wait_until(lambda: manager.list_sessions()[0].exit_code is not None, what="the exit")
    polled = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000))
    assert (polled.exit_status, out.output + polled.output) == (Exited(5), "bye\r\n")


async def test_unread_output_over_the_limit_keeps_head_and_tail_and_counts_exactly(tmp_path: Path) -> None:
    flag = tmp_path / "printed"
    full = seq_output(20_000)
    async with SessionManager(max_unread_bytes=4096) as manager:
        sid = await start_and_wait_for_file(
            manager, f"seq 1 20000; touch {flag}; exec cat", flag, printed=len(full)
        )
        # The cut falls inside what truncation removes anyway: exactly the reference's text.
        out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0, max_output_tokens=100))
        assert out.original_token_count == approx_token_count(len(full))
        assert out.output == truncate_middle(full, 400)[0]

        flag.unlink()
        sid2 = await start_and_wait_for_file(
            manager, f"seq 1 20000; touch {flag}; exec cat", flag, printed=len(full)
        )
        # A budget larger than what was kept: the gap shows, saying how many bytes were dropped.
        out = await manager.write_stdin(WriteStdinParams(sid2, "", yield_time_ms=0))
        assert out.original_token_count == approx_token_count(len(full))
        head, rest = out.output.split("\n…", 1)
        marker, tail = rest.split("…\n", 1)
        dropped = int(marker.split(" ", 1)[0])
        assert marker == f"{dropped} bytes dropped: more output than the session buffer holds"
        assert full.startswith(head) and len(head) == 2048
        assert full.endswith(tail) and len(tail) == 2048
        assert len(head) + dropped + len(tail) == len(full)


async def test_fast_exits_never_lose_output(manager: SessionManager) -> None:
    """The reference lost `echo fastN` under /bin/sh in 7 of 20 runs."""
    for i in range(50):
        out = await manager.exec_command(sh(f"echo fast{i}", shell="/bin/sh"))
        assert (out.exit_status, out.output) == (Exited(0), f"fast{i}\r\n")


async def test_output_before_the_first_read_is_kept(manager: SessionManager, tmp_path: Path) -> None:
    flag = tmp_path / "printed"
    sid = await start_and_wait_for_file(manager, f"echo early; touch {flag}; exec cat", flag)
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
    assert out.output == "early\r\n"


async def test_exit_is_reported_although_a_background_child_holds_the_terminal(
    manager: SessionManager,
) -> None:
    out = await manager.exec_command(sh("sleep 60 & echo started"))
    assert (out.exit_status, out.output) == (Exited(0), "started\r\n")
    assert manager.list_sessions() == []


async def test_large_output_is_truncated_exactly_on_a_pty(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("seq 1 3000000", yield_time_ms=120_000, max_output_tokens=1000))
    full = seq_output(3_000_000)
    assert out.exit_status == Exited(0)
    assert out.original_token_count == approx_token_count(len(full))
    assert out.output == truncate_middle(full, 4000)[0]


MEMORY_PROBE = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from streamshell import ExecCommandParams, SessionManager

    def rss_kib(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    async def main(n):
        async with SessionManager() as m:
            await m.exec_command(ExecCommandParams(cmd="seq 1 1000", login=False, tty=False))
            before = rss_kib("VmRSS")
            out = await m.exec_command(ExecCommandParams(
                cmd=f"head -c {n} /dev/zero | tr '\\\\0' x", login=False, tty=False, yield_time_ms=120_000))
            print(json.dumps({"growth_kib": rss_kib("VmHWM") - before, "tokens": out.original_token_count,
                              "status": str(out.exit_status), "len": len(out.output)}))

    asyncio.run(main(int(sys.argv[1])))
    """
)


def test_memory_stays_bounded_for_huge_output() -> None:
    n = 400_000_000
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(n)], capture_output=True, text=True, timeout=600, check=True
    )
    result = json.loads(run.stdout)
    assert result["status"] == "Exited(code=0)"
    assert result["tokens"] == approx_token_count(n)
    assert result["len"] < 40_100
    # Holding the output would cost 400 MB; the buffer keeps two windows of 512 KiB.
    assert result["growth_kib"] < 32 * 1024, result


async def test_a_character_split_between_two_calls_arrives_whole(
    manager: SessionManager, tmp_path: Path
) -> None:
    flag = tmp_path / "half"
    sid = await start_and_wait_for_file(
        manager, f"printf 'ab\\303'; touch {flag}; read x; printf '\\251cd\\n'", flag, tty=False
    )
    streamed: list[str] = []
    first = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0), on_output=streamed.append)
    assert first.output == "ab" and "".join(streamed) == "ab"
    streamed.clear()
    second = await manager.write_stdin(
        WriteStdinParams(sid, "\n", yield_time_ms=30_000), on_output=streamed.append
    )
    assert second.exit_status == Exited(0)
    assert second.output == "écd\n" and "".join(streamed) == "écd\n"


async def test_a_character_cut_short_by_the_exit_becomes_a_replacement_character(
    manager: SessionManager,
) -> None:
    out = await manager.exec_command(sh("printf 'ab\\303'", tty=False))
    assert (out.exit_status, out.output) == (Exited(0), "ab\ufffd")
