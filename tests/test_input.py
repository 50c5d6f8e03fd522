"""Input: queued and non-blocking, bounded, reported when pending, and Ctrl-C always gets through."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import running_command, sh, start, start_sleep, start_until, wait_until
from streamshell import (
    Exited,
    Ongoing,
    SessionManager,
    WriteError,
    WriteStdinParams,
    handle_function_call,
)
from streamshell._engine.input import MAX_PENDING_INPUT

pytestmark = [pytest.mark.spawn_paths(), pytest.mark.sandboxes()]

BIG_INPUT = ("x" * 99 + "\n") * 3000  # 300 KB of lines: far more than a PTY buffers


@pytest.mark.parametrize("tty", [True, False])
async def test_input_for_a_process_that_does_not_read_never_blocks(
    manager: SessionManager, tty: bool
) -> None:
    sid = await start_sleep(manager, 600, tty=tty)
    stuck, other = await asyncio.gather(
        manager.write_stdin(WriteStdinParams(sid, BIG_INPUT, yield_time_ms=500)),
        manager.exec_command(sh("echo meanwhile")),
    )
    assert (other.exit_status, other.output) == (Exited(0), "meanwhile\r\n")
    assert stuck.exit_status == Ongoing(sid)
    assert 0 < stuck.pending_input_bytes <= len(BIG_INPUT)
    text = stuck.to_text_output()
    assert f"Warning: {stuck.pending_input_bytes} bytes of input not yet written" in text

    # Ctrl-C behind the stuck input flushes it and interrupts, as a terminal does.
    interrupted = await manager.write_stdin(WriteStdinParams(sid, "\x03", yield_time_ms=30_000))
    assert interrupted.exit_status == Exited(130)
    assert interrupted.pending_input_bytes == 0


async def test_the_interrupt_character_is_the_terminals(manager: SessionManager, sandbox: str) -> None:
    """After ``stty intr ^X`` the terminal interrupts on ^X, not ^C: behind stuck input too."""
    sid = await start(manager, "stty intr ^X && exec sleep 600")
    pid = next(s.pid for s in manager.list_sessions() if s.session_id == sid)
    await wait_until(lambda: running_command(pid, "sleep"), what="sleep to start")
    stuck = await manager.write_stdin(WriteStdinParams(sid, BIG_INPUT, yield_time_ms=0))
    assert stuck.pending_input_bytes > 0
    not_an_interrupt = await manager.write_stdin(WriteStdinParams(sid, "\x03", yield_time_ms=0))
    assert not_an_interrupt.exit_status == Ongoing(sid)
    assert not_an_interrupt.pending_input_bytes > 0  # still stuck: ^C was queued as a byte
    interrupted = await manager.write_stdin(WriteStdinParams(sid, "\x18", yield_time_ms=30_000))
    assert (interrupted.exit_status, interrupted.pending_input_bytes) == (Exited(130), 0)
    if sandbox == "danger-full-access":  # (bwrap exits with 130: the signal is not told apart)
        assert interrupted.exit_status.signal == signal.SIGINT


async def test_pending_input_is_bounded(manager: SessionManager) -> None:
    sid = await start(manager, "sleep 600")
    too_large = (
        "failed to write to stdin: the input is too large (1048577 bytes): "
        "at most 1048576 bytes can be queued"
    )
    with pytest.raises(WriteError) as e:
        await manager.write_stdin(WriteStdinParams(sid, "y" * (MAX_PENDING_INPUT + 1)))
    assert str(e.value) == too_large  # not "0 bytes of earlier input are still waiting" (issue 10, 12)
    result = await handle_function_call(
        manager, "write_stdin", f'{{"session_id": {sid}, "chars": "{"y" * (MAX_PENDING_INPUT + 1)}"}}'
    )
    assert (result.content, result.success) == (too_large, False)
    half = "y" * (MAX_PENDING_INPUT // 2 + 1)
    stuck = await manager.write_stdin(WriteStdinParams(sid, half, yield_time_ms=0))
    with pytest.raises(WriteError, match=r"^failed to write to stdin: \d+ bytes of earlier input are still"):
        await manager.write_stdin(WriteStdinParams(sid, "y" * (MAX_PENDING_INPUT * 3 // 4)))
    assert stuck.pending_input_bytes > 0
    still = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
    assert still.exit_status == Ongoing(sid)


async def test_queued_input_is_delivered_when_the_process_reads(
    manager: SessionManager, tmp_path: Path
) -> None:
    flag = tmp_path / "read-now"
    sid = await start(manager, f"while [ ! -e {flag} ]; do sleep 0.01; done; wc -c", tty=False)
    first = await manager.write_stdin(WriteStdinParams(sid, BIG_INPUT, yield_time_ms=0))
    assert first.pending_input_bytes > 0
    flag.touch()
    done = await manager.write_stdin(WriteStdinParams(sid, "\x04", yield_time_ms=30_000))
    assert (done.exit_status, done.output.strip()) == (Exited(0), str(len(BIG_INPUT)))


async def test_nothing_may_follow_ctrl_d_on_pipes(manager: SessionManager) -> None:
    sid = await start(manager, "cat", tty=False)
    with pytest.raises(WriteError, match="nothing can follow"):
        await manager.write_stdin(WriteStdinParams(sid, "a\x04b"))
    closed = await manager.write_stdin(WriteStdinParams(sid, "\x04", yield_time_ms=30_000))
    assert closed.exit_status == Exited(0)


async def test_ctrl_d_on_a_pty_ends_a_line_mode_read(manager: SessionManager) -> None:
    sid = await start(manager, "cat")
    out = await manager.write_stdin(WriteStdinParams(sid, "hello\n\x04", yield_time_ms=30_000))
    assert (out.exit_status, out.output) == (Exited(0), "hello\r\nhello\r\n")


async def test_raw_mode_programs_get_ctrl_c_as_a_byte(manager: SessionManager) -> None:
    prog = (
        "python3 -c \"import sys, tty; tty.setraw(0); print('raw', flush=True); "
        'print(repr(sys.stdin.read(1)), flush=True)"'
    )
    sid, _ = await start_until(manager, prog, "raw")
    out = await manager.write_stdin(WriteStdinParams(sid, "\x03", yield_time_ms=30_000))
    assert out.exit_status == Exited(0)
    assert "'\\x03'" in out.output


async def test_ctrl_c_still_works_after_ctrl_d_closed_a_pipe_sessions_stdin(manager: SessionManager) -> None:
    sid = await start_sleep(manager, 600, tty=False)
    closed = await manager.write_stdin(WriteStdinParams(sid, "\x04", yield_time_ms=0))
    assert closed.exit_status == Ongoing(sid)  # sleep does not read its stdin
    with pytest.raises(WriteError, match="is closed"):
        await manager.write_stdin(WriteStdinParams(sid, "more"))
    out = await manager.write_stdin(WriteStdinParams(sid, "\x03", yield_time_ms=30_000))
    assert out.exit_status == Exited(130)


CTRL_C_AFTER_LEADER_EXIT = textwrap.dedent(
    """
    import asyncio, os
    from streamshell import ExecCommandParams, SessionManager, WriteStdinParams
    async def main():
        async with SessionManager() as m:
            flag = os.environ["FLAG"]
            cmd = f"sleep 600 & echo $! > {flag}.bg; until [ -e {flag} ]; do sleep 0.01; done"
            out = await m.exec_command(ExecCommandParams(cmd=cmd, login=False, yield_time_ms=0))
            sid = out.exit_status.session_id
            stuck = await m.write_stdin(WriteStdinParams(sid, ("y" * 99 + "\\\\n") * 3000, yield_time_ms=0))
            assert stuck.pending_input_bytes > 0, stuck
            open(flag, "w").close()
            while m.list_sessions()[0].exit_code is None:
                await asyncio.sleep(0.01)
            await m.write_stdin(WriteStdinParams(sid, "\\x03", yield_time_ms=0))
            print("still here", flush=True)
    asyncio.run(main())
    """
)


def test_ctrl_c_after_the_leader_exited_never_signals_streamshell_itself(tmp_path: Path) -> None:
    """Once the leader has exited the terminal has no foreground group (tcgetpgrp says 0): a
    Ctrl-C must then go to the session's own group, never to killpg(0), our own group. Run in a
    session of its own so that a regression cannot interrupt the test run."""
    flag = tmp_path / "leader-may-exit"
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AFTER_LEADER_EXIT],
        env={**os.environ, "FLAG": str(flag)},
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert (done.returncode, done.stdout) == (0, "still here\n"), done.stderr


EMFILE_PROBE = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from streamshell import SessionManager, handle_function_call
    async def main():
        async with SessionManager(watchdog=False) as m:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))  # only stdin, stdout, stderr
            results = [await handle_function_call(m, "exec_command", json.dumps({"cmd": "true", "tty": tty}))
                       for tty in (False, True)]
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        print(json.dumps([[r.content, r.success] for r in results]))
    asyncio.run(main())
    """
)


def test_running_out_of_file_descriptors_is_a_clear_error() -> None:
    done = subprocess.run([sys.executable, "-c", EMFILE_PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    pipes, pty = json.loads(done.stdout)
    assert pipes == [
        "failed to create exec command session for session id 0: could not create pipes: "
        "EMFILE: Too many open files",
        False,
    ]
    assert pty == [
        "failed to create exec command session for session id 1: could not open a pseudo-terminal: "
        "EMFILE: Too many open files",
        False,
    ]
