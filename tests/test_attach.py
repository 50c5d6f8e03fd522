"""`streamshell attach ID`, driven through a real PTY (pexpect): the session's current screen first,
its output live, keys sent only with --input, Ctrl-] detaches and the terminal's mode comes back;
and the errors a person can meet."""

from __future__ import annotations

import os
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from helpers import body, call_tool, mcp_read_until
from test_mcp_http import RunningServer, connect, start_server, stop

PROMPT = ">>> "
DRAWN_PROMPT = ">>>"
"""The prompt as a drawn screen shows it: a row's trailing space is left to the cursor's position."""


@pytest.fixture
def quiet_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))  # the server's casts go to the test's directory


@pytest.fixture
def server(quiet_state: None) -> Iterator[RunningServer]:
    running = start_server("--ui-input")
    yield running
    stop(running)


def attach(server: RunningServer, *args: str, token: str | None = None) -> pexpect.spawn:
    env = {**os.environ, "STREAMSHELL_TOKEN": token or server.token}
    url = server.url.rsplit("/mcp", 1)[0]
    return pexpect.spawn(
        sys.executable,
        ["-m", "streamshell", "attach", *args, "--url", url],
        env=env,
        timeout=60,
        dimensions=(24, 80),
    )


def ended(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus is not None, child.signalstatus
    return int(child.exitstatus)


async def test_attach_shows_the_screen_then_the_session_live_and_detaches(server: RunningServer) -> None:
    async with connect(server) as client:
        text, _ = await call_tool(
            client, "exec_command", {"cmd": "printf 'earlier output\\n'; python3 -q -i"}
        )
        await mcp_read_until(client, 0, PROMPT, seen=body(text))
        child = attach(server, "0")
        child.expect_exact("[attached to session 0: printf 'earlier output\\n'; python3 -q -i; read-only;")
        child.expect_exact("earlier output")  # the screen as it is, before anything new
        child.expect_exact(DRAWN_PROMPT)
        await call_tool(client, "write_stdin", {"session_id": 0, "chars": "print('from the ' + 'agent')\n"})
        child.expect_exact("from the agent")
        assert termios.tcgetattr(child.child_fd)[3] & termios.ECHO == 0  # raw mode while attached
        child.send("6*7\r")  # read-only: not sent
        seen = await mcp_read_until(client, 0, "marker", chars="print('mark' + 'er')\n")
        assert "42" not in seen
        child.send("\x1d")
        child.expect_exact("[detached from session 0]")
        assert ended(child) == 0


async def test_attach_with_input_types_into_the_session(server: RunningServer) -> None:
    async with connect(server) as client:
        text, _ = await call_tool(client, "exec_command", {"cmd": "python3 -q -i", "login": False})
        await mcp_read_until(client, 0, PROMPT, seen=body(text))
        child = attach(server, "0", "--input")
        child.expect_exact("typing goes to the session")
        child.expect_exact(DRAWN_PROMPT)
        child.send("6*7\r")
        child.expect_exact("42")
        await mcp_read_until(client, 0, "42")  # the agent's next call returns what the person typed
        child.send("exit()\r")
        child.expect_exact("[session 0 exited with code 0]")
        assert ended(child) == 0


async def test_the_terminal_mode_is_restored_after_detaching(server: RunningServer) -> None:
    """The attach process puts its terminal in raw mode and back: seen from the PTY's other side."""
    async with connect(server) as client:
        await call_tool(client, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0})
        child = attach(server, "0")
        before = termios.tcgetattr(child.child_fd)
        child.expect_exact("Ctrl-] detaches]")
        child.expect_exact("\x1b[?25h")  # the screen has been drawn
        raw = termios.tcgetattr(child.child_fd)
        assert raw[3] & (termios.ECHO | termios.ICANON) == 0
        child.send("\x1d")
        child.expect_exact("[detached from session 0]")
        child.expect(pexpect.EOF)
        after = termios.tcgetattr(child.child_fd)
        assert after[3] == before[3] and after[3] & termios.ECHO
        child.close()


async def test_attach_says_what_is_wrong(server: RunningServer, quiet_state: None) -> None:
    async with connect(server) as client:
        await call_tool(client, "exec_command", {"cmd": "echo done", "yield_time_ms": 10_000})
    child = attach(server, "7")
    child.expect_exact("streamshell attach: no session 7 is listed (live sessions: none)")
    assert ended(child) == 3
    child = attach(server, "0")
    child.expect("streamshell attach: session 0 has ended with code 0; its cast: \\S+\\.cast")
    assert ended(child) == 3
    child = attach(server, "0", token="wrong")
    child.expect_exact("refused the token: set STREAMSHELL_TOKEN to the server's token")
    assert ended(child) == 3
    read_only = start_server()
    try:
        child = attach(read_only, "0", "--input")
        child.expect_exact("the server takes no input from watchers: start it with --ui-input")
        assert ended(child) == 3
    finally:
        stop(read_only)
    assert server.token not in stop(server)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "streamshell", "attach", "0", "--url", "http://127.0.0.1:9"],
        env={k: v for k, v in os.environ.items() if k != "STREAMSHELL_TOKEN"},
    )
    child.expect_exact("set STREAMSHELL_TOKEN to the server's token")
    assert ended(child) == 2
    child = attach(server, "0")
    child.expect_exact("no streamshell server answers at")
    assert ended(child) == 3
