"""Part 1: a call returns as soon as the program waits for input on its terminal (or stdin pipe),
read from the kernel's state; and only then (sleep, busy loops, servers, writers, parents do not).

Every program here is real. A call that should return early is given a 30 s yield: if the
detection failed it would run out and say ``waiting_for_input=False``. A call that must not
return early gets a shorter yield and must run it out.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import LONG, read_until, sh, start, start_and_wait_for_file, wait_until
from streamshell import ExecCommandOutput, Exited, Ongoing, SessionManager, WriteStdinParams
from streamshell._engine import procstate

"""The yield of calls that must return early: far longer than any program here takes to prompt."""
SHORT = 1_500
"""The yield of calls that must run it out."""


def waiting(out: ExecCommandOutput) -> int:
    """Assert the call returned because the program waits for input; return its session id."""
    assert isinstance(out.exit_status, Ongoing), out
    assert out.waiting_for_input, out
    assert out.wall_time < LONG / 1000, out
    return out.exit_status.session_id


def ran_out_the_yield(out: ExecCommandOutput, yield_ms: int = SHORT) -> None:
    assert isinstance(out.exit_status, Ongoing), out
    assert not out.waiting_for_input, out
    assert out.wall_time >= yield_ms / 1000, out


async def exec_waiting(manager: SessionManager, cmd: str, **kw: object) -> tuple[int, str]:
    out = await manager.exec_command(sh(cmd, yield_time_ms=LONG, **kw))
    return waiting(out), out.output


async def type_waiting(manager: SessionManager, sid: int, chars: str) -> str:
    out = await manager.write_stdin(WriteStdinParams(sid, chars, yield_time_ms=LONG))
    waiting(out)
    return out.output


# ----- must return early -------------------------------------------------------------------------


@pytest.mark.spawn_paths()
async def test_cat_returns_at_once_and_echoes_each_line(manager: SessionManager) -> None:
    sid, first = await exec_waiting(manager, "cat")
    assert first == ""
    for line in ("one", "two", "three"):
        assert await type_waiting(manager, sid, line + "\n") == f"{line}\r\n{line}\r\n"


@pytest.mark.spawn_paths()
async def test_python_repl_round_trips_end_at_the_prompt(manager: SessionManager) -> None:
    sid, banner = await exec_waiting(manager, "python3 -q -i")
    assert banner.endswith(">>> ")
    for i in range(5):
        assert await type_waiting(manager, sid, f"print({i}*{i})\n") == f"print({i}*{i})\r\n{i * i}\r\n>>> "
    # A statement that takes a while: the call waits it out, then returns at the next prompt.
    out = await type_waiting(manager, sid, "import time; time.sleep(0.5); print('slept')\n")
    assert out.endswith("slept\r\n>>> ")


async def test_bash_and_sh_at_their_prompts(manager: SessionManager) -> None:
    sid, prompt = await exec_waiting(manager, "PS1='bash$ ' exec bash --norc --noprofile -i")
    assert prompt.endswith("bash$ ")
    answer = await type_waiting(manager, sid, "echo $((6*7))\n")
    assert "\r42\r\n" in answer and answer.endswith("bash$ ")  # (around bracketed-paste switches)
    sid, prompt = await exec_waiting(manager, "PS1='sh$ ' exec sh -i", shell="/bin/sh")
    assert prompt.endswith("sh$ ")
    assert (await type_waiting(manager, sid, "echo hi\n")).endswith("hi\r\nsh$ ")


async def test_read_prompts(manager: SessionManager) -> None:
    sid, prompt = await exec_waiting(manager, "read -p 'Name? ' name; echo \"hello $name\"")
    assert prompt == "Name? "
    out = await manager.write_stdin(WriteStdinParams(sid, "Ada\n", yield_time_ms=LONG))
    assert (out.exit_status, out.output) == (Exited(0), "Ada\r\nhello Ada\r\n")
    sid, prompt = await exec_waiting(
        manager, "printf 'Delete everything? [y/N] '; read answer; echo \"<$answer>\""
    )
    assert prompt == "Delete everything? [y/N] "
    out = await manager.write_stdin(WriteStdinParams(sid, "n\n", yield_time_ms=LONG))
    assert (out.exit_status, out.output) == (Exited(0), "n\r\n<n>\r\n")


CURSES_MENU = textwrap.dedent(
    """
    import curses

    def main(screen):
        screen.addstr(0, 0, "Pick a fruit: [a] apple  [b] banana")
        screen.refresh()
        key = screen.getch()
        screen.addstr(2, 0, "You picked " + {ord("a"): "apple", ord("b"): "banana"}.get(key, "nothing"))
        screen.addstr(3, 0, "Press any key to leave")
        screen.refresh()
        screen.getch()

    curses.wrapper(main)
    """
)


async def test_a_curses_program_in_getch(manager: SessionManager, tmp_path: Path) -> None:
    menu = tmp_path / "menu.py"
    menu.write_text(CURSES_MENU)
    sid, _ = await exec_waiting(manager, f"python3 {menu}")
    screen = await type_waiting(manager, sid, "b")
    assert "You picked banana" in screen
    out = await manager.write_stdin(WriteStdinParams(sid, "x", yield_time_ms=LONG))
    assert out.exit_status == Exited(0)


async def test_less_waits_for_a_command(manager: SessionManager, tmp_path: Path) -> None:
    text = tmp_path / "numbers.txt"
    text.write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    sid, page = await exec_waiting(manager, f"less {text}")
    assert "line 1\r\n" in page
    page = await type_waiting(manager, sid, "G")  # the end of the file: less reads the terminal again
    assert "line 1000" in page
    out = await manager.write_stdin(WriteStdinParams(sid, "q", yield_time_ms=LONG))
    assert out.exit_status == Exited(0)


async def test_node_repl(manager: SessionManager) -> None:
    node = shutil.which("node")
    assert node, "the node REPL test needs node: apt-get install nodejs"
    sid, banner = await exec_waiting(manager, "node")
    assert "Welcome to Node.js" in banner
    assert "42" in await type_waiting(manager, sid, "6*7\n")  # the REPL waits in epoll, not read


async def test_password_prompts_of_su_and_ssh_keygen(manager: SessionManager, tmp_path: Path) -> None:
    # su run by an unprivileged user asks for root's password on /dev/tty, without echo.
    sid, prompt = await exec_waiting(manager, "runuser -u nobody -- su root -c true")
    assert prompt.endswith("Password: ")
    await manager.kill_session(sid)
    # OpenSSH's passphrase prompt (readpassphrase: /dev/tty, no echo), as ssh asks for a password.
    sid, prompt = await exec_waiting(manager, f"ssh-keygen -q -t ed25519 -f {tmp_path / 'key'}")
    assert prompt == "Enter passphrase (empty for no passphrase): "
    assert (await type_waiting(manager, sid, "\n")) == "\r\nEnter same passphrase again: "
    out = await manager.write_stdin(WriteStdinParams(sid, "\n", yield_time_ms=LONG))
    assert out.exit_status == Exited(0)


@pytest.mark.spawn_paths()
async def test_programs_reading_their_stdin_pipe(manager: SessionManager) -> None:
    sid, _ = await exec_waiting(manager, "cat", tty=False)
    assert await type_waiting(manager, sid, "piped\n") == "piped\n"
    sid, prompt = await exec_waiting(manager, "python3 -c 'print(input(\"name? \"))'", tty=False)
    assert prompt == "name? "


# ----- must NOT return early ---------------------------------------------------------------------


async def test_sleep_busy_loop_and_a_server_run_out_the_yield(manager: SessionManager) -> None:
    for cmd in ("sleep 600", "python3 -c 'while True: pass'", "python3 -m http.server 0 --bind 127.0.0.1"):
        ran_out_the_yield(await manager.exec_command(sh(cmd, yield_time_ms=SHORT)))


async def test_a_program_waiting_on_a_child_runs_out_the_yield(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh('python3 -c \'import subprocess; subprocess.run(["sleep", "600"])\'', yield_time_ms=SHORT)
    )
    ran_out_the_yield(out)
    ran_out_the_yield(await manager.exec_command(sh("sleep 600; echo never", yield_time_ms=SHORT)))


async def test_a_program_blocked_writing_runs_out_the_yield(manager: SessionManager) -> None:
    """Output stopped with XOFF (^S): the program blocks writing to the terminal, not reading it."""
    sid, _ = await exec_waiting(manager, "read go; exec yes")
    ran_out_the_yield(await manager.write_stdin(WriteStdinParams(sid, "\x13\n", yield_time_ms=SHORT)))
    resumed = await manager.write_stdin(WriteStdinParams(sid, "\x11", yield_time_ms=200))
    assert "y\r\ny\r\n" in resumed.output


async def test_pipes_sleep_runs_out_the_yield(manager: SessionManager) -> None:
    ran_out_the_yield(await manager.exec_command(sh("sleep 600", tty=False, yield_time_ms=SHORT)))


async def test_the_option_off_restores_waiting_out_the_yield() -> None:
    async with SessionManager(return_on_input_wait=False) as manager:
        ran_out_the_yield(await manager.exec_command(sh("cat", yield_time_ms=SHORT)))


async def test_without_proc_syscall_files_the_option_is_inert(monkeypatch: pytest.MonkeyPatch) -> None:
    """What macOS has: no /proc. The probe says it cannot work, and calls wait out their yield."""
    monkeypatch.setattr(procstate.platform, "machine", lambda: "no-such-architecture")
    assert procstate.calls_here() is None
    async with SessionManager() as manager:
        ran_out_the_yield(await manager.exec_command(sh("cat", yield_time_ms=SHORT)))
        assert [s.waiting_for_input for s in manager.list_sessions()] == [False]


# ----- edges -------------------------------------------------------------------------------------


async def test_the_foreground_job_changes(manager: SessionManager) -> None:
    """bash at its prompt, then python3 in the foreground, then bash again."""
    sid, _ = await exec_waiting(manager, "PS1='$ ' exec bash --norc --noprofile -i")
    assert (await type_waiting(manager, sid, "python3 -q\n")).endswith(">>> ")
    assert (await type_waiting(manager, sid, "print('in python')\n")).endswith("in python\r\n>>> ")
    assert (await type_waiting(manager, sid, "exit()\n")).endswith("$ ")
    out = await manager.write_stdin(WriteStdinParams(sid, "exit\n", yield_time_ms=LONG))
    assert out.exit_status == Exited(0)


FLIPPER = textwrap.dedent(
    """
    import select, sys
    for i in range(300):
        sys.stdout.write(f"{i} ")
        sys.stdout.flush()
        select.select([sys.stdin], [], [], 0.001)  # reads the terminal, for a millisecond
    sys.stdout.write("READY> ")
    sys.stdout.flush()
    print("got", input())
    """
)


async def test_a_program_that_flips_between_reading_and_printing(
    manager: SessionManager, tmp_path: Path
) -> None:
    """Brief reads between prints: a call may end in one of them (the program does wait for
    input then, for a millisecond), but every chunk comes, in order, and the last call ends at the
    real prompt."""
    script = tmp_path / "flipper.py"
    script.write_text(FLIPPER)
    out = await manager.exec_command(sh(f"python3 {script}", yield_time_ms=LONG))
    sid = waiting(out)
    seen = out.output
    while not seen.endswith("READY> "):
        more = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=LONG))
        waiting(more)
        seen += more.output
    assert seen == "".join(f"{i} " for i in range(300)) + "READY> "
    done = await manager.write_stdin(WriteStdinParams(sid, "x\n", yield_time_ms=LONG))
    assert (done.exit_status, done.output) == (Exited(0), "x\r\ngot x\r\n")


async def test_typed_ahead_input_is_read_before_the_call_returns(manager: SessionManager) -> None:
    sid, _ = await exec_waiting(manager, 'read a; read b; echo "[$a][$b]"; read c')
    out = await manager.write_stdin(WriteStdinParams(sid, "one\ntwo\n", yield_time_ms=LONG))
    waiting(out)
    assert out.output.endswith("[one][two]\r\n")


async def test_an_orphaned_background_job_loses_no_output(manager: SessionManager) -> None:
    """The prompt returns while a background job still prints: the call returns at the prompt, and
    what the job prints later is kept for the next calls."""
    sid, _ = await exec_waiting(manager, "PS1='$ ' exec bash --norc --noprofile -i")
    out = await type_waiting(manager, sid, "(for i in 1 2 3; do sleep 0.2; echo bg$i; done) &\n")
    seen = await read_until(manager, sid, "bg3", out)
    assert re.findall(r"bg\d", seen) == ["bg1", "bg2", "bg3"]


async def test_list_sessions_says_who_waits_and_what_is_unread(
    manager: SessionManager, tmp_path: Path
) -> None:
    reader = await start(manager, "cat")
    sleeper = await start(manager, "sleep 600")
    flag = tmp_path / "printed"
    printer = await start_and_wait_for_file(manager, f"printf abc; touch {flag}; exec sleep 600", flag)

    def info() -> dict[int, tuple[bool, int]]:
        return {s.session_id: (s.waiting_for_input, s.unread_bytes) for s in manager.list_sessions()}

    await wait_until(lambda: info()[reader][0], what="cat to wait for input")
    await wait_until(lambda: info()[printer][1] == 3, what="printf's 3 bytes")
    assert info()[sleeper] == (False, 0)
    assert info()[printer] == (False, 3)
    out = await manager.write_stdin(WriteStdinParams(printer, "", yield_time_ms=0))
    assert out.output == "abc"
    assert info()[printer] == (False, 0)


def test_probe_numbers_are_known_for_this_machine() -> None:
    """The probe works here (Linux with /proc): the suite above tests it, not the inert path."""
    assert procstate.calls_here() is not None, f"no system call table for {sys.platform}"
