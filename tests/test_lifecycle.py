"""Session lifecycle: exits reported, ended sessions explained, pruning, killing, closing, threads."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from helpers import alive, host_pid, process_state, sh, start, start_sleep, start_until, wait_until
from streamshell import (
    Exited,
    ManagerClosedError,
    ManagerOptions,
    NoTerminalError,
    Ongoing,
    SessionEndedError,
    SessionManager,
    SpawnError,
    UnknownSessionError,
    WriteStdinParams,
    handle_function_call,
)

pytestmark = [pytest.mark.spawn_paths(), pytest.mark.sandboxes()]


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
    leader = manager.list_sessions()[0].pid
    pids = [host_pid(leader, int(p)) for p in seen.split()[1:3]]
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
    await wait_until(lambda: manager._sessions[sid].unread_bytes > 0, what="output")
    out = await manager.kill_session(sid)
    assert (out.exit_status, out.output) == (Exited(129), "last words\r\n")


async def test_kill_during_a_call_lets_the_call_report_the_exit(manager: SessionManager) -> None:
    # not cat: a call on a program waiting for input returns; started: a sandbox's bwrap loses a
    # signal sent while it sets up
    sid = await start_sleep(manager, 600)
    waiting = asyncio.create_task(manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000)))
    await wait_until(lambda: manager._sessions[sid].busy, what="the call to start waiting")
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
        assert m.options.protected == 1
    assert ManagerOptions().protected == 8


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
    leaders = {s.session_id: s.pid for s in m.list_sessions()}
    pids = [host_pid(leaders[sid], int(seen.split()[1])) for sid, seen in started]
    await m.aclose()
    assert not any(alive(p) for p in pids)
    await m.aclose()
    with pytest.raises(ManagerClosedError, match=r"^the session manager is closed$"):
        await m.exec_command(sh("true"))


async def test_aclose_during_a_call() -> None:
    m = SessionManager()
    sid = await start_sleep(m, 600)  # (a signal sent while a sandbox's bwrap sets up is lost)
    waiting = asyncio.create_task(m.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000)))
    await wait_until(lambda: m._sessions[sid].busy, what="the call to start waiting")
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


async def test_sessions_die_when_the_interpreter_exits_without_closing() -> None:
    run = subprocess.run(
        [sys.executable, "-c", EXIT_WITHOUT_CLOSE], capture_output=True, text=True, timeout=60
    )
    pid = int(run.stdout.split()[0])
    await wait_until(lambda: not alive(pid), what="the session to be killed at interpreter exit")


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
        # The handler ends the program: a SIGWINCH that lands between the print and pause() (a
        # loaded machine) must not leave it paused for good.
        'python3 -c "import os, signal; '
        "signal.signal(signal.SIGWINCH, "
        "lambda *a: (print(os.get_terminal_size(), flush=True), os._exit(0))); "
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
    from streamshell._engine import spawn
    if sys.argv[2] == "popen":
        spawn.libc_spawner = lambda: None
    async def main():
        manager = SessionManager(watchdog=sys.argv[1] == "on", parent_death_signal=sys.argv[1] == "pdeathsig")
        out = await manager.exec_command(ExecCommandParams(
            cmd="trap '' HUP TERM; echo $$; sleep 600 & wait", login=False, yield_time_ms=2000))
        print(out.output.strip(), flush=True)
        await asyncio.sleep(600)
    asyncio.run(main())
    """
)


@pytest.mark.parametrize("watchdog", ["on", "off", "pdeathsig"])
async def test_sessions_die_when_their_owner_is_sigkilled(watchdog: str, spawn_path: str) -> None:
    """Closing the PTY master hangs the session up, but a shell ignoring SIGHUP survives that;
    the watchdog kills it anyway. Without the watchdog, ``parent_death_signal`` kills the direct
    child (only: its background sleep, ignoring SIGHUP and SIGTERM too, lives on)."""
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_KILLED, watchdog, spawn_path], stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    owner.kill()
    owner.wait()
    if watchdog == "on":
        await wait_until(lambda: not alive(pid), what="the watchdog to kill the orphaned session")
    elif watchdog == "pdeathsig":
        await wait_until(lambda: not alive(pid), what="the parent-death signal to kill the shell")
        os.killpg(pid, signal.SIGKILL)  # its background sleep (the group outlives its leader)
    else:
        await asyncio.sleep(1)  # what the watchdog would have had to do, not done
        assert alive(pid), "without the watchdog a shell ignoring SIGHUP outlives its owner"
        os.killpg(pid, signal.SIGKILL)


async def test_an_exited_leader_stays_a_zombie_until_its_exit_is_reported(manager: SessionManager) -> None:
    """The unreaped leader pins its pid, and so the group id we signal: a recycled pid can never
    make us kill an unrelated group. It is reaped once the session is let go."""
    sid = await start(manager, "exit 3")
    await wait_until(lambda: manager.list_sessions()[0].exit_code == 3, what="the exit")
    pid = manager.list_sessions()[0].pid
    assert process_state(pid) == "Z"
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=0))
    assert out.exit_status == Exited(3)
    await wait_until(lambda: process_state(pid) is None, what="the leader to be reaped")


async def test_a_cancelled_close_still_kills_every_group() -> None:
    m = SessionManager(kill_grace=5)
    sid, seen = await start_until(m, "trap '' HUP TERM; echo pid $$; exec sleep 600", "\r\n")
    pid = host_pid(m.list_sessions()[0].pid, int(seen.split()[1]))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(m.aclose(), 0.2)  # cancelled in the middle of the 5 s grace
    await wait_until(lambda: not alive(pid), what="the group to be SIGKILLed")
    assert sid == 0
    await m.aclose()  # closing again finishes what was cut short (the watchdog helper)


async def test_closing_wakes_a_call_even_when_an_escaped_process_holds_the_terminal() -> None:
    m = SessionManager()
    _, seen = await start_until(m, "setsid sleep 600 & echo escaped $!; exec sleep 600", "\r\n")
    escaped = host_pid(m.list_sessions()[0].pid, int(seen.split()[1]))
    try:
        waiting = asyncio.create_task(m.write_stdin(WriteStdinParams(0, "", yield_time_ms=60_000)))
        await wait_until(lambda: m._sessions[0].busy, what="the call to start waiting")
        await m.aclose()
        out = await asyncio.wait_for(waiting, 20)  # not the 60 s yield
        assert out.exit_status == Exited(129)
    finally:
        with contextlib.suppress(ProcessLookupError):  # (in a sandbox it died with the namespace)
            os.kill(escaped, signal.SIGKILL)


async def test_ctrl_c_is_not_held_back_by_a_call_already_waiting(manager: SessionManager) -> None:
    sid = await start_sleep(manager, 600)
    waiting = asyncio.create_task(manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=60_000)))
    await wait_until(lambda: manager._sessions[sid].busy, what="the call to start waiting")
    interrupt = asyncio.create_task(manager.write_stdin(WriteStdinParams(sid, "\x03")))
    first = await asyncio.wait_for(waiting, 20)  # the Ctrl-C ends the wait, not the 60 s yield
    assert first.exit_status == Exited(130)
    with pytest.raises(SessionEndedError, match="already exited with code 130"):
        await interrupt


async def test_a_cancelled_exec_command_kills_the_session_it_started(manager: SessionManager) -> None:
    call = asyncio.create_task(manager.exec_command(sh("echo pid $$; exec sleep 600", yield_time_ms=60_000)))
    await wait_until(lambda: bool(manager.list_sessions()), what="the session")
    pid = manager.list_sessions()[0].pid
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert manager.list_sessions() == []
    await wait_until(lambda: not alive(pid), what="the session to be killed")
    with pytest.raises(SessionEndedError, match="the exec_command that started it was cancelled"):
        await manager.write_stdin(WriteStdinParams(0, ""))


WATCHDOG_RESTARTED = textwrap.dedent(
    """
    import asyncio, os, signal
    from streamshell import ExecCommandParams, SessionManager
    async def main():
        manager = SessionManager()
        cmd = "trap '' HUP TERM; echo $$; exec sleep 600"
        first = await manager.exec_command(ExecCommandParams(cmd=cmd, login=False, yield_time_ms=2000))
        helper = manager._watchdog._proc
        helper.kill()
        helper.wait()
        second = await manager.exec_command(ExecCommandParams(cmd=cmd, login=False, yield_time_ms=2000))
        print(first.output.strip(), second.output.strip(), flush=True)
        await asyncio.sleep(600)
    asyncio.run(main())
    """
)


async def test_a_restarted_watchdog_learns_every_live_group() -> None:
    owner = subprocess.Popen([sys.executable, "-c", WATCHDOG_RESTARTED], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pids = [int(p) for p in owner.stdout.readline().split()]
    owner.kill()
    owner.wait()
    await wait_until(lambda: not any(alive(p) for p in pids), what="the new watchdog to kill both sessions")


def test_an_output_listener_that_fails_does_not_stop_the_session(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> str:
        async with SessionManager() as m:
            out = await m.exec_command(sh("echo hi"), on_output=lambda text: 1 / 0)  # type: ignore[func-returns-value]
            return out.output

    assert asyncio.run(run()) == "hi\r\n"
    assert "an output listener of session 0 failed" in caplog.text


async def test_engine_decisions_are_logged_and_objects_say_what_they_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streamshell")
    async with SessionManager(max_sessions=2, protected_sessions=0) as m:
        first = await start(m, "sleep 600")
        await start(m, "sleep 600")
        assert repr(m).startswith("<SessionManager open sessions=2/2 next_id=2")
        assert repr(m._sessions[first]).startswith(f"<Session {first} running pid=")
        await start(m, "sleep 600")  # prunes the least recently used: the first
        with pytest.raises(SpawnError):
            await m.exec_command(sh("true", shell="/nonexistent/shell"))
        await m.kill_session(2)
    log = caplog.text
    assert f"session {first}: pruned: 2 sessions open, at most 2" in log
    assert "session 3: could not start 'true': Unable to spawn /nonexistent/shell" in log
    assert "session 2: killing its process group (kill_session)" in log
    assert "closing the session manager: killing 1 session(s)" in log


@pytest.mark.sandboxes("danger-full-access")  # in a sandbox nothing outlives the leader's namespace
async def test_output_closed_after_the_drain_wait_gave_up_is_harmless(tmp_path: Path) -> None:
    """The leader exits; a background child holds the output open past ``exit_drain_timeout``, then
    prints and closes it. The session finished when the drain wait ran out: the late EOF must not
    finish it again (nothing goes to the loop's exception handler, no call fails)."""
    flag, pid_file = tmp_path / "go", tmp_path / "child.pid"
    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: errors.append(context))
    async with SessionManager() as m:
        cmd = f"(while [ ! -e {flag} ]; do sleep 0.01; done; echo late) & echo $! > {pid_file}; echo started"
        first = await m.exec_command(sh(cmd, tty=False, yield_time_ms=0))
        assert first.session_id is not None
        session = m._sessions[first.session_id]
        await wait_until(lambda: session.done, what="the drain wait to give up")
        flag.touch()
        child = int(pid_file.read_text())
        await wait_until(lambda: not alive(child), what="the background child to end")
        last = await m.write_stdin(WriteStdinParams(first.session_id, "", yield_time_ms=1000))
        assert last.exit_status == Exited(0)
        assert (first.output + last.output).startswith("started\n")
    assert not errors, errors


async def test_concurrent_starts_over_the_cap_never_kill_a_session_in_its_first_call() -> None:
    """100 concurrent exec_command calls at max_sessions=8: 8 run, 92 get a clear error, none is
    pruned while its caller waits for its first result (issue 10, finding 6: 92 'exited with 129')."""
    async with SessionManager(max_sessions=8) as m:
        results = await asyncio.gather(
            *(
                handle_function_call(m, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 1000})
                for _ in range(100)
            )
        )
        running = [r for r in results if isinstance(r.exit_status, Ongoing)]
        refused = [r for r in results if r.error]
        assert (len(running), len(refused)) == (8, 92), [r.content for r in results if r.exit_status]
        assert all(
            re.fullmatch(
                r"failed to create exec command session for session id \d+: "
                r"too many sessions: 8 running; kill one with kill_session or wait",
                r.content,
            )
            for r in refused
        ), refused[0].content
        assert len(m.list_sessions()) == 8
        # Idle now: the next start prunes the least recently used, whose next caller is told.
        started = await handle_function_call(
            m, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0}
        )
        assert isinstance(started.exit_status, Ongoing)
        oldest = running[0].session_id
        pruned = await handle_function_call(m, "write_stdin", {"session_id": oldest, "chars": ""})
        assert pruned.content.startswith(f"session id {oldest} was pruned to stay within 8 open sessions")


async def test_killing_a_session_whose_background_child_held_its_output_past_the_drain(
    manager: SessionManager, caplog: pytest.LogCaptureFixture
) -> None:
    """The leader exits, a background child keeps its output open past the drain wait (the
    session is complete without EOF); killing it then reads the EOF, which must not complete the
    session a second time (an assertion in the reader's callback, logged by asyncio; a kill
    through the escape table's respawner raised it in kill_session itself)."""
    sid = await start(manager, "sleep 600 & echo started", tty=False)  # no hangup: the pipe stays open
    await wait_until(lambda: manager._sessions[sid].done, what="the drain wait to run out")
    out = await manager.kill_session(sid)
    assert out.exit_status == Exited(0)
    await manager.aclose()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
