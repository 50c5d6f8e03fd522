"""`streamshell serve` over stdio, driven by the MCP SDK's own stdio client in a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from helpers import (
    INITIALIZE,
    TOOL_CALLS,
    alive,
    body,
    call_tool,
    mcp_read_until,
    progress_messages,
    wait_until,
)


def server(*args: str) -> StdioServerParameters:
    # The SDK passes only a minimal environment by default; pass ours (the leak detector's marker included).
    return StdioServerParameters(
        command=sys.executable, args=["-m", "streamshell", "serve", *args], env=dict(os.environ)
    )


async def test_a_whole_session_over_stdio(tmp_path: Path) -> None:
    errlog_path = tmp_path / "server.stderr"
    calls_before = TOOL_CALLS[0]
    with errlog_path.open("w") as errlog:
        async with (
            stdio_client(server(), errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            assert [t.name for t in tools.tools] == [
                "exec_command",
                "write_stdin",
                "list_sessions",
                "kill_session",
            ]

            updates, on_progress = progress_messages()

            text, error = await call_tool(
                session,
                "exec_command",
                {"cmd": "echo one; sleep 0.2; echo two", "login": False},
                progress_callback=on_progress,
            )
            assert not error and text.endswith("Process exited with code 0\nOutput:\none\r\ntwo\r\n")
            assert "".join(updates) == "one\r\ntwo\r\n"

            text, _ = await call_tool(
                session, "exec_command", {"cmd": "python3 -q -i", "login": False, "yield_time_ms": 0}
            )
            assert "Process running with session ID 1" in text
            await mcp_read_until(session, 1, ">>> ", seen=body(text))
            text, _ = await call_tool(
                session, "write_stdin", {"session_id": 1, "chars": "6*7\n", "yield_time_ms": 200}
            )
            await mcp_read_until(session, 1, "42", seen=body(text))
            text, _ = await call_tool(
                session, "write_stdin", {"session_id": 1, "chars": "\u0003", "yield_time_ms": 200}
            )
            await mcp_read_until(session, 1, "KeyboardInterrupt", seen=body(text))
            [info] = json.loads((await call_tool(session, "list_sessions", {}))[0])
            assert info["command"] == "python3 -q -i" and info["running"]
            text, error = await call_tool(session, "kill_session", {"session_id": 1})
            assert not error and "Process exited with code 129\n" in text
            assert await call_tool(session, "write_stdin", {"session_id": 1, "chars": ""}) == (
                "session id 1 was killed (exit code 129); start a new one with exec_command",
                True,
            )
    log = [line for line in errlog_path.read_text().splitlines() if " streamshell INFO " in line]
    assert len(log) == TOOL_CALLS[0] - calls_before, "one log line per tool call"
    assert log[0].split(" INFO ")[1].startswith("exec_command session=0 exited=0 wall=")
    assert log[1].split(" INFO ")[1].startswith("exec_command session=1 running wall=")
    assert log[-1].split(" INFO ")[1].startswith("write_stdin error wall=")
    assert log[-1].endswith(": session id 1 was killed (exit code 129); start a new one with exec_command")


async def start_and_get_pids(session: ClientSession, cmd: str) -> list[int]:
    """Start ``cmd`` (which prints pids on its first line) and return them."""
    text, _ = await call_tool(session, "exec_command", {"cmd": cmd, "login": False, "yield_time_ms": 0})
    sid = int(text.split("session ID ")[1].split("\n")[0])
    first_line = (await mcp_read_until(session, sid, "\r\n", seen=body(text))).split("\r\n")[0]
    return [int(p) for p in first_line.split()]


@pytest.mark.parametrize("how", ["stdin-eof", "SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"])
async def test_stopping_the_server_kills_every_session(how: str, tmp_path: Path) -> None:
    """However the server ends, no session outlives it, even a shell that ignores SIGHUP."""
    pids: list[int] = []
    with (tmp_path / "stderr").open("w") as errlog:
        async with (
            stdio_client(server(), errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            server_pid, *shell = await start_and_get_pids(
                session, "trap '' HUP; echo $PPID $$; exec sleep 600"
            )
            _, *more = await start_and_get_pids(session, "sleep 600 & echo $PPID $$ $!; wait")
            pids = shell + more
            assert all(alive(p) for p in pids)
            if how != "stdin-eof":
                os.kill(server_pid, getattr(signal, how))
                await wait_until(lambda: not alive(server_pid), what="the server to stop")
    await wait_until(lambda: not any(alive(p) for p in pids), what=f"sessions to die after {how}")


def test_stdin_that_cannot_be_polled_is_read_too(tmp_path: Path) -> None:
    """/dev/null or a file on stdin: the event loop cannot wait on it, the SDK's reader is used."""
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps(INITIALIZE) + "\n")
    serve = [sys.executable, "-m", "streamshell", "serve"]
    empty = subprocess.run(serve, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert (empty.returncode, empty.stdout) == (0, ""), empty.stderr
    with requests.open() as stdin:
        done = subprocess.run(serve, stdin=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["serverInfo"]["name"] == "streamshell"


STARTUP_PATH = {
    "streamshell",
    "streamshell._moved",
    "streamshell._version",
    "streamshell.cli",
    "streamshell.cli.main",
    "streamshell.cli.flags",
    "streamshell.cli.serve",
    "streamshell.profiles",
    "streamshell._engine",
    "streamshell._engine.options",  # the manager options the serve flags are parsed into
    "streamshell._engine.environment",  # their check of environment entries
    "streamshell.tools",
    "streamshell.tools.names",
    "streamshell.mcp",
    "streamshell.mcp.server",
    "streamshell.mcp.notices",
    "streamshell.mcp.ondemand",
    "streamshell.mcp.stdio",
}
"""streamshell's modules on the way from launching `streamshell serve` to answering `initialize`:
the command line, the flags and the server; not the engine, the tools or the agent's config."""

RECORD_IMPORTS = """
import atexit, sys
path = sys.argv.pop()
atexit.register(lambda: open(path, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "streamshell"
from streamshell.cli import main
sys.exit(main())
"""


def test_answering_initialize_loads_neither_the_engine_nor_the_tools(tmp_path: Path) -> None:
    """The session manager is made by the first tool call; a server that only answered `initialize`
    never imported the engine, the tools' registry, pyte or regex."""
    imported = tmp_path / "modules"
    done = subprocess.run(
        [sys.executable, "-c", RECORD_IMPORTS, "serve", str(imported)],
        input=json.dumps(INITIALIZE) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"]["serverInfo"]["name"] == "streamshell"
    modules = set(imported.read_text().split("\n"))
    assert {m for m in modules if m.split(".")[0] == "streamshell"} == STARTUP_PATH
    assert not modules & {"pyte", "regex", "wcwidth"}


WRAPPED_SERVE = """
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
for fd in os.pipe():
    os.set_inheritable(fd, True)  # what a careless embedding program or client leaves open
os.execv(sys.executable, [sys.executable, "-m", "streamshell", "serve"])
"""


async def test_sessions_get_neither_the_servers_fds_nor_its_raised_limit(tmp_path: Path) -> None:
    """The server raises its open-files limit for its own many fds; sessions get the limit it was
    started with, and none of its fds (issue 10, findings 3 and 13)."""
    params = StdioServerParameters(command=sys.executable, args=["-c", WRAPPED_SERVE], env=dict(os.environ))
    with (tmp_path / "stderr").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            for tty in (True, False):
                cmd = "ulimit -n; ls -1 /proc/$$/fd; cat /proc/$PPID/limits"
                text, error = await call_tool(
                    session, "exec_command", {"cmd": cmd, "login": False, "shell": "/bin/sh", "tty": tty}
                )
                assert not error, text
                lines = body(text).splitlines()
                assert lines[:4] == ["256", "0", "1", "2"], text
                server_limit = next(line for line in lines if line.startswith("Max open files"))
                assert server_limit.split()[3] != "256", "the server itself keeps its raised limit"
