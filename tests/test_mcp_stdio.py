"""`streamshell serve` over stdio, driven by the MCP SDK's own stdio client in a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from packaging.requirements import Requirement

import streamshell
from helpers import (
    INITIALIZE,
    TOOL_CALLS,
    UNSANDBOXED,
    alive,
    body,
    call_tool,
    mcp_read_until,
    progress_messages,
    wait_until,
)

PURELIB = sysconfig.get_paths()["purelib"]


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
            stdio_client(server(*UNSANDBOXED), errlog=errlog) as (read, write),
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
    "streamshell.cli.attach",  # its subcommand's flags
    "streamshell.profiles",
    "streamshell._engine",
    "streamshell._engine.options",  # the manager options the serve flags are parsed into
    "streamshell._engine.environment",  # their check of environment entries
    "streamshell._engine.sandbox",  # the sandbox option's policy, checked at start (bwrap runs once)
    "streamshell._engine.resource_limits",  # the limits option's declaration (not how they are enforced)
    "streamshell._engine.transcripts",  # the cast store: a bad --transcripts is refused before serving
    "streamshell._engine.cast",
    "streamshell.tools",
    "streamshell.tools.names",
    "streamshell.mcp",
    "streamshell.mcp.server",
    "streamshell.mcp.notices",
    "streamshell.mcp.clients",
    "streamshell.mcp.connections",
    "streamshell.mcp.stdio",
    "streamshell._parsing",  # stdio's check of every line the SDK would drop unanswered (issue 10)
    "streamshell.errors",  # which _parsing imports
}
"""streamshell's modules on the way from launching `streamshell serve` to answering `initialize`:
the command line, the flags and the server (and the cast store, stdlib only); not the engine, the
tools or the agent's config."""

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
os.execv(sys.executable, [sys.executable, "-m", "streamshell", "serve", *UNSANDBOXED])
""".replace("UNSANDBOXED", repr(UNSANDBOXED))


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
                cmd = "ulimit -n; ls -1 /proc/$$/fd; echo $PPID"
                text, error = await call_tool(
                    session, "exec_command", {"cmd": cmd, "login": False, "shell": "/bin/sh", "tty": tty}
                )
                assert not error, text
                lines = body(text).splitlines()
                assert lines[:4] == ["256", "0", "1", "2"], text
                # Read from here, once the call is over: the server lowers its own soft limit for the
                # instant of a spawn, and a child reading it then would race the restore.
                limits = Path(f"/proc/{lines[4]}/limits").read_text().splitlines()
                server_limit = next(line for line in limits if line.startswith("Max open files"))
                assert server_limit.split()[3] != "256", "the server itself keeps its raised limit"


def _runtime_distributions() -> list[metadata.Distribution]:
    """streamshell's installed dependencies (no extras), and theirs: what ``serve`` may import."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(metadata.requires("streamshell") or [])
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        dist = metadata.distribution(requirement.name)
        if dist.name not in found:
            found[dist.name] = dist
            todo += dist.requires or []
    return list(found.values())


def _readable_copy(into: Path) -> Path:
    """streamshell and its runtime dependencies copied under ``into``, readable by any user: the
    checkout (and its venv) may sit in a directory only its owner can enter (``mktemp -d``)."""
    site = into / "site"
    shutil.copytree(Path(streamshell.__file__).parent, site / "streamshell")
    for dist in _runtime_distributions():
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and source.is_relative_to(PURELIB):
                target = site / source.relative_to(PURELIB)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    for path in (into, *into.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


def as_nobody(python_args: list[str], scratch: Path) -> tuple[str, list[str], dict[str, str]]:
    """How to run this Python, with streamshell and its dependencies, as an unprivileged user: a
    root server's sessions are root, and root reads every process's memory whatever the server
    does. As root: the system's python3 (ours may live under root's home) under setpriv, with a
    copy of the packages it needs in ``scratch`` (a directory outside /tmp's owner-only ones)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(streamshell.__file__).parents[1]), PURELIB])}
    if os.geteuid() != 0:
        return sys.executable, python_args, env
    setpriv, system_python = shutil.which("setpriv"), "/usr/bin/python3"
    assert setpriv, "setpriv (util-linux) is needed to run the server as an unprivileged user"
    version = subprocess.run(
        [system_python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    assert version.stdout.strip() == str(sys.version_info[:2]), (
        f"{system_python} must be Python {sys.version_info[:2]}"
    )
    env["PYTHONPATH"] = str(_readable_copy(scratch))
    env["HOME"] = "/"
    return setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", system_python, *python_args], env


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory any user may enter (pytest's tmp_path is its owner's only)."""
    path = Path(tempfile.mkdtemp(prefix="streamshell-nobody-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path)


async def test_sessions_cannot_read_the_servers_token(scratch: Path) -> None:
    """The token is not in the sessions' environment, and the server's own /proc/PID/environ (where
    it stays) is unreadable to them: the server is non-dumpable (issue 10, finding 8)."""
    command, args, env = as_nobody(["-m", "streamshell", "serve", *UNSANDBOXED], scratch)
    env["STREAMSHELL_TOKEN"] = "token-that-must-not-leak"
    params = StdioServerParameters(command=command, args=args, env=env, cwd="/")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        cmd = (
            "id -u; env | grep -c STREAMSHELL_TOKEN; tr '\\\\0' '\\\\n' < /proc/$PPID/environ | grep -c TOKEN"
        )
        text, error = await call_tool(session, "exec_command", {"cmd": cmd, "login": False, "tty": False})
    assert not error, text
    output = body(text)
    assert "token-that-must-not-leak" not in output
    assert output.splitlines()[:2] == [str(os.geteuid() or 65534), "0"], output
    assert "Permission denied" in output, output


HOSTILE_LINES: list[tuple[str | bytes, object, int | None]] = [
    ("not json at all", None, -32700),
    (b'\xff\xfe{"jsonrpc":"2.0","id":2,"method":"ping"}', None, -32700),
    (
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"exec_command","arguments":{"cmd":"\\ud800"}}}',
        3,
        -32600,
    ),
    ('{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"\\udc80","arguments":{}}}', 4, -32600),
    ('{"jsonrpc":"2.0","id":"\\ud800","method":"ping"}', None, -32600),
    (
        '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"exec_command","arguments":'
        + "[" * 100_000
        + "]" * 100_000
        + "}}",
        None,
        -32700,
    ),
    (
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"exec_command","arguments":'
        + "[" * 200
        + "]" * 200
        + "}}",
        7,
        -32600,
    ),
    (
        '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"write_stdin","arguments":{"session_id":'
        + "9" * 400
        + ',"chars":""}}}',
        8,
        None,
    ),
    (
        '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"exec_command","arguments":5}}',
        9,
        -32602,
    ),
]
"""Lines the SDK used to drop without an answer (the first seven), and two it answers itself:
(line, the id the answer must carry, the JSON-RPC error code; None: a tool result)."""


def test_hostile_requests_over_stdio_all_get_an_answer() -> None:
    """Never silence (issue 10, finding 4): each request gets its answer, in order, and the server
    serves on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamshell", "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 1
        for line, request_id, code in HOSTILE_LINES:
            process.stdin.write((line if isinstance(line, bytes) else line.encode()) + b"\n")
            process.stdin.flush()
            answer = json.loads(process.stdout.readline())
            assert answer["id"] == request_id, (line[:80], answer)
            if code is None:
                assert answer["result"]["isError"], answer
            else:
                assert answer["error"]["code"] == code, (line[:80], answer)
        process.stdin.write(b'{"jsonrpc":"2.0","id":99,"method":"ping"}\n')
        process.stdin.flush()
        assert json.loads(process.stdout.readline()) == {"jsonrpc": "2.0", "id": 99, "result": {}}
    finally:
        process.stdin.close()
        process.wait(timeout=60)
