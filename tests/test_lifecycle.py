"""Session lifecycle: exits reported, ended sessions explained, pruning, killing, closing, threads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from helpers import alive, sh, start, start_until, wait_until
from streamshell import (
    Exited,
    ManagerClosedError,
    NoTerminalError,
    SessionEndedError,
    SessionManager,
    UnknownSessionError,
    WriteStdinParams,
)


async def test_write_stdin_returns_early_when_the_process_exits(manager: SessionManager) -> None:
    sid = await start(manager, "cat")
    out = await manager.write_stdin(WriteStdinParams(sid, "\x04", yield_time_ms=30_000))
    assert out.exit_status == Exited(0)
    assert manager.list_sessions() == []


async def test_later_calls_say_the_session_exited(manager: SessionManager) -> None:
    sid = await start(manager, "cat")
    await manager.write_stdin(WriteStdinParams(sid, "\x04", yield_time_ms=30_000))
    with pytest.raises(SessionEndedError) as e:
        await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
    assert str(e.value) == f"session id {sid} already exited with code 0; start a new one with exec_command"


async def test_only_never_issued_ids_are_unknown(manager: SessionManager) -> None:
    with pytest.raises(UnknownSessionError) as e:
        await manager.write_stdin(WriteStdinParams(0, "x"))
    assert str(e.value) == "unknown session id 0"
    await manager.exec_command(sh("true"))
    with pytest.raises(SessionEndedError, match=r"^session id 0 already exited with code 0;"):
        await manager.write_stdin(WriteStdinParams(0, "x"))
    with pytest.raises(UnknownSessionError, match=r"^unknown session id 1$"):
        await manager.write_stdin(WriteStdinParams(1, "x"))


async def test_a_failed_spawn_id_is_explained(manager: SessionManager) -> None:
    with pytest.raises(Exception, match="session id 0"):
        await manager.exec_command(sh("true", shell="/nonexistent"))
    with pytest.raises(SessionEndedError, match=r"^session id 0 never started"):
        await manager.write_stdin(WriteStdinParams(0, ""))


async def test_kill_session_kills_the_group_even_when_signals_are_ignored(manager: SessionManager) -> None:
    sid, seen = await start_until(manager, "trap '' HUP TERM INT; sleep 600 & echo pids $$ $!; wait", "\r\n")
    pids = [int(p) for p in seen.split()[1:3]]
    assert all(alive(p) for p in pids)
    out = await manager.kill_session(sid)
    assert out.exit_status == Exited(137)
    await wait_until(lambda: not any(alive(p) for p in pids), what="the group to die")
    with pytest.raises(SessionEndedError, match=r"^session id \d+ was killed \(exit code 137\);"):
        await manager.write_stdin(WriteStdinParams(sid, ""))


async def test_kill_session_returns_unread_output(manager: SessionManager, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    sid = await start(manager, f"while [ ! -e {flag} ]; do sleep 0.01; done; echo last words; exec sleep 600")
    flag.touch()
    await wait_until(lambda: len(manager._sessions[sid].buffer) > 0, what="output")
    out = await manager.kill_session(sid)
    assert (out.exit_status, out.output) == (Exited(129), "last words\r\n")


async def test_kill_during_a_call_lets_the_call_report_the_exit(manager: SessionManager) -> None:
    sid = await start(manager, "cat")
    waiting = asyncio.create_task(manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000)))
    await wait_until(lambda: manager._sessions[sid].lock.locked(), what="the call to start waiting")
    killed = await manager.kill_session(sid)
    reported = await waiting
    assert reported.exit_status == killed.exit_status == Exited(129)


async def test_pruning_spares_recent_sessions_and_prefers_exited_ones() -> None:
    async with SessionManager(max_sessions=3, protected_sessions=1) as m:

        def live() -> list[int]:
            return [s.session_id for s in m.list_sessions()]

        a, b, c = [await start(m, "cat") for _ in range(3)]
        await m.write_stdin(WriteStdinParams(a, "", yield_time_ms=0))  # use order, oldest first: b c a
        d = await start(m, "cat")  # a is protected; b is the least recently used
        assert live() == [a, c, d]
        with pytest.raises(
            SessionEndedError, match=f"^session id {b} was pruned to stay within 3 open sessions"
        ):
            await m.write_stdin(WriteStdinParams(b, ""))

        await m.write_stdin(WriteStdinParams(a, "", yield_time_ms=0))  # c d a
        e = await start(m, "exit 7", shell="/bin/sh")  # prunes c; e exits at once, unreported
        assert live() == [a, d, e]
        await wait_until(lambda: m.list_sessions()[-1].exit_code == 7, what="the exit")
        await m.write_stdin(WriteStdinParams(a, "", yield_time_ms=0))  # d e a
        f = await start(m, "cat")  # d is the least recently used, but e has exited: e goes
        assert live() == [a, d, f]
        with pytest.raises(SessionEndedError, match=f"^session id {e} was pruned"):
            await m.write_stdin(WriteStdinParams(e, ""))


async def test_default_protection_is_eight_of_sixty_four() -> None:
    async with SessionManager(max_sessions=10, protected_sessions=None) as m:
        assert m._protected == 1
    assert SessionManager()._protected == 8


def test_manager_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_sessions"):
        SessionManager(max_sessions=0)
    with pytest.raises(ValueError, match="protected_sessions"):
        SessionManager(max_sessions=2, protected_sessions=2)
    with pytest.raises(ValueError, match="environment variable name"):
        SessionManager(env={"A=B": "x"})


async def test_aclose_kills_every_group_and_is_idempotent() -> None:
    m = SessionManager()
    started = [await start_until(m, "trap '' HUP; echo pid $$; sleep 600", "\r\n") for _ in range(3)]
    pids = [int(seen.split()[1]) for _, seen in started]
    await m.aclose()
    assert not any(alive(p) for p in pids)
    await m.aclose()
    with pytest.raises(ManagerClosedError, match=r"^the session manager is closed$"):
        await m.exec_command(sh("true"))


async def test_aclose_during_a_call() -> None:
    m = SessionManager()
    sid = await start(m, "cat")
    waiting = asyncio.create_task(m.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000)))
    await wait_until(lambda: m._sessions[sid].lock.locked(), what="the call to start waiting")
    await m.aclose()
    assert (await waiting).exit_status == Exited(129)


EXIT_WITHOUT_CLOSE = textwrap.dedent(
    """
    import asyncio
    from streamshell import ExecCommandParams, SessionManager
    MANAGER = SessionManager()
    async def main():
        out = await MANAGER.exec_command(ExecCommandParams(
            cmd="trap '' HUP TERM; echo $$; exec sleep 600", login=False, yield_time_ms=2000))
        print(out.output.strip(), flush=True)
    asyncio.run(main())
    """
)


def test_sessions_die_when_the_interpreter_exits_without_closing() -> None:
    run = subprocess.run(
        [sys.executable, "-c", EXIT_WITHOUT_CLOSE], capture_output=True, text=True, timeout=60
    )
    pid = int(run.stdout.split()[0])
    assert not alive(pid)


async def test_no_thread_per_session(manager: SessionManager) -> None:
    await start(manager, "cat")
    threads = threading.active_count()
    for _ in range(20):
        await start(manager, "cat")
    assert threading.active_count() == threads
    assert len(manager.list_sessions()) == 21


async def test_list_sessions(manager: SessionManager) -> None:
    sid = await start(manager, "cat", tty=False)
    [info] = manager.list_sessions()
    assert (info.session_id, info.command, info.tty, info.exit_code, info.running) == (
        sid,
        "cat",
        False,
        None,
        True,
    )
    assert alive(info.pid)
    assert info.started_at <= info.last_used_at


async def test_resize_sends_sigwinch(manager: SessionManager) -> None:
    sid, _ = await start_until(
        manager,
        'python3 -c "import os, signal; '
        "signal.signal(signal.SIGWINCH, lambda *a: print(os.get_terminal_size())); "
        "print('ready', flush=True); signal.pause()\"",
        "ready",
    )
    await manager.resize(sid, 40, 100)
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000))
    assert out.exit_status == Exited(0)
    assert "os.terminal_size(columns=100, lines=40)" in out.output


async def test_resize_errors(manager: SessionManager) -> None:
    sid = await start(manager, "cat", tty=False)
    with pytest.raises(NoTerminalError, match="runs on pipes"):
        await manager.resize(sid, 10, 10)
    with pytest.raises(Exception, match="rows: must be between 1 and 65535, got 0"):
        await manager.resize(sid, 0, 10)
    with pytest.raises(UnknownSessionError):
        await manager.resize(99, 10, 10)


OWNER_KILLED = textwrap.dedent(
    """
    import asyncio, sys
    from streamshell import ExecCommandParams, SessionManager
    async def main():
        manager = SessionManager(watchdog=sys.argv[1] == "on")
        out = await manager.exec_command(ExecCommandParams(
            cmd="trap '' HUP TERM; echo $$; sleep 600 & wait", login=False, yield_time_ms=2000))
        print(out.output.strip(), flush=True)
        await asyncio.sleep(600)
    asyncio.run(main())
    """
)


@pytest.mark.parametrize("watchdog", ["on", "off"])
async def test_sessions_die_when_their_owner_is_sigkilled(watchdog: str) -> None:
    """Closing the PTY master hangs the session up, but a shell ignoring SIGHUP survives that;
    the watchdog kills it anyway."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_KILLED, watchdog], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    owner.kill()
    owner.wait()
    if watchdog == "on":
        await wait_until(lambda: not alive(pid), what="the watchdog to kill the orphaned session")
    else:
        await asyncio.sleep(1)  # what the watchdog would have had to do, not done
        assert alive(pid), "without the watchdog a shell ignoring SIGHUP outlives its owner"
        os.killpg(pid, signal.SIGKILL)
