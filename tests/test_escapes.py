"""Nothing escapes: every escape technique x every cleanup path x every kill mechanism, 0 survivors.

The table is in ``tests/escapes.py``. Survivors are the test's processes still alive
afterwards, found by the marker every test's processes carry (``helpers.MARK``): the
escapees, and for the server path the server's watchdog helper too.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from escapes import CLEANUPS, ENV_WIPED, ESCAPES, Escape, environment
from helpers import INITIALIZE, MARK, marked_processes, wait_until
from streamshell import ExecCommandParams, Exited, Ongoing, SessionManager, WriteStdinParams
from streamshell._engine.options import settings

SETUPS: dict[str, dict[str, Any]] = {
    "cgroup": {"containment": "cgroup", "sandbox": "danger-full-access"},
    "subreaper": {"containment": "subreaper", "sandbox": "danger-full-access"},
    "workspace-write": {
        "containment": "cgroup",
        "sandbox": "workspace-write",
        "writable_roots": (tempfile.gettempdir(),),
    },
    "pid-namespace": {
        "containment": "auto",
        "sandbox": "workspace-write",
        "writable_roots": (tempfile.gettempdir(),),
    },
}
"""Manager options under which the whole table must hold (inside the sandbox too: the escapees
report to the tests' temporary directory, a writable root there). Each names its sandbox:
``serve``'s default is not the library's. ``pid-namespace``: a sandbox with ``auto``, where the
namespace alone contains the session."""

MECHANISM = {setup: options["containment"] for setup, options in SETUPS.items()} | {
    "pid-namespace": "pid-namespace"
}
"""The mechanism each setup's manager reports."""

LIBRARY_CLEANUPS = [c for c in CLEANUPS if c != "server-sigkill"]

WATCHDOG_HELPER = "watchdog_helper.py"

SURVIVOR_DEADLINE = 30.0
"""Seconds the cleanup gets to finish killing (generous: the machine is shared and loaded)."""


async def survivors() -> list[tuple[int, str]]:
    """The test's processes still alive once the deadline has passed or none is left, but for a
    live manager's own watchdog helper (not a session's; the leak check sees it gone later).
    Waits on the event loop: a manager kills in the background once an exit is reported."""
    value = os.environ[MARK]
    deadline = time.monotonic() + SURVIVOR_DEADLINE

    def left() -> list[tuple[int, str]]:
        return [p for p in marked_processes(value) if WATCHDOG_HELPER not in p[1]]

    found = left()
    while found and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        found = left()
    return found


def flags(options: dict[str, Any]) -> list[str]:
    """A setup's manager options as ``streamshell serve`` flags (a list: its flag once per item)."""
    by_option = {s.option: s.flag for s in settings()}
    found = []
    for name, value in options.items():
        for item in value if isinstance(value, tuple) else (value,):
            found += [by_option[name], str(item)]
    return found


async def started(manager: SessionManager, escape: Escape, ready: Path, then: str = "read _") -> int:
    """Start ``escape`` in a session that then waits on ``then``; return its id once an escapee runs."""
    ready.mkdir()
    params = ExecCommandParams(
        cmd=f"{escape.script}\n{then}",
        login=False,
        yield_time_ms=0,
        env=environment(str(ready), sys.executable),
    )
    out = await manager.exec_command(params)
    assert isinstance(out.exit_status, Ongoing), out
    await wait_until(lambda: any(ready.iterdir()), what=f"the {escape} escapee to start")
    return out.exit_status.session_id


async def end(manager: SessionManager, session_id: int, cleanup: str) -> None:
    if cleanup == "kill_session":
        await manager.kill_session(session_id)
    elif cleanup == "exit":
        out = await manager.write_stdin(WriteStdinParams(session_id, "\n", yield_time_ms=30_000))
        assert out.exit_status == Exited(0), out
    else:
        await manager.aclose()


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("cleanup", LIBRARY_CLEANUPS)
@pytest.mark.parametrize("escape", ESCAPES, ids=str)
async def test_no_escapee_outlives_its_session(
    escape: Escape, cleanup: str, setup: str, tmp_path: Path
) -> None:
    async with SessionManager(**SETUPS[setup]) as manager:
        assert manager.mechanism == MECHANISM[setup]
        session_id = await started(manager, escape, tmp_path / "ready")
        await end(manager, session_id, cleanup)
        assert await survivors() == []


@pytest.mark.parametrize("cleanup", LIBRARY_CLEANUPS)
async def test_a_daemon_that_wipes_its_environment_dies_with_its_cgroup(cleanup: str, tmp_path: Path) -> None:
    """No marker to find it by: only the cgroup holds it (the subreaper fallback's limit)."""
    async with SessionManager(containment="cgroup") as manager:
        session_id = await started(manager, ENV_WIPED, tmp_path / "ready")
        await end(manager, session_id, cleanup)
        assert await survivors() == []


class RawServer:
    """``streamshell serve`` over stdio, spoken to line by line (its pid is ours to SIGKILL)."""

    def __init__(self, args: list[str], stderr: Path) -> None:
        with stderr.open("w") as errlog:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamshell", "serve", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errlog,
            )
        self._next_id = 1
        self.request("initialize", INITIALIZE["params"])
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its result (notifications in between are skipped)."""
        self._next_id += 1
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            assert line, "the server closed stdout"
            message = json.loads(line)
            if message.get("id") == self._next_id:
                result: dict[str, Any] = message["result"]
                return result

    def sigkill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def close_server() -> Iterator[list[RawServer]]:
    servers: list[RawServer] = []
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.sigkill()


@pytest.mark.parametrize("setup", SETUPS)
async def test_no_escapee_outlives_a_sigkilled_server(
    setup: str, tmp_path: Path, close_server: list[RawServer]
) -> None:
    """Every technique at once in one server, then SIGKILL: its watchdog kills them all (under
    the cgroup mechanism or in a PID namespace the environment-wiping daemon too)."""
    server = RawServer(flags(SETUPS[setup]), tmp_path / "server.stderr")
    close_server.append(server)
    techniques = (*ESCAPES, ENV_WIPED) if MECHANISM[setup] in ("cgroup", "pid-namespace") else ESCAPES
    for escape in techniques:
        ready = tmp_path / escape.name
        ready.mkdir()
        arguments = {
            "cmd": f"{escape.script}\nread _",
            "login": False,
            "yield_time_ms": 0,
            "env": environment(str(ready), sys.executable),
        }
        result = server.request("tools/call", {"name": "exec_command", "arguments": arguments})
        assert not result.get("isError"), result
        await wait_until(lambda ready=ready: any(ready.iterdir()), what=f"the {escape} escapee to start")
    server.sigkill()
    left = await survivors()
    assert left == [], {e.name: sorted(p.name for p in (tmp_path / e.name).iterdir()) for e in techniques}


def test_the_table_covers_eleven_techniques_and_four_paths() -> None:
    assert len(ESCAPES) == 11 and len({e.name for e in ESCAPES}) == 11
    assert CLEANUPS == ("kill_session", "exit", "close", "server-sigkill")
