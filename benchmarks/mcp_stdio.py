"""MCP over stdio: ``tools/call exec_command {"cmd": "true", "login": false}`` against ``streamshell serve``.

The server is started with the ``mcp`` SDK's own stdio client; the floor is the same call on
the library in this process, alternated with the remote calls. Until ``python -m streamshell
serve --help`` works the row says the server is not built yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from streamshell import SessionManager

from .report import NOT_MEASURED, Row, spread, verdict
from .sizes import Sizes
from .spawn import streamshell_spawn
from .stats import Timing, alternate, stopwatch, summarize
from .system import child_pid, cpu_seconds

MAX_EXTRA = 0.001
ARGUMENTS = {"cmd": "true", "login": False}
METRIC = 'MCP over stdio: `tools/call exec_command {"cmd":"true","login":false}`'
TARGET = f"≤ {MAX_EXTRA * 1000:g} ms extra (median)"
SERVER = [sys.executable, "-m", "streamshell", "serve"]


def server_available() -> bool:
    """Whether ``streamshell serve`` exists in this installation."""
    try:
        done = subprocess.run([*SERVER, "--help"], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class Calls:
    """The alternated calls' timings, and the server's CPU per call (None if it was not found)."""

    library: list[Timing]
    remote: list[Timing]
    server_cpu: float | None


async def rows(sizes: Sizes) -> list[Row]:
    if not server_available():
        return [Row(METRIC, "-", "n/a (server not built yet)", "-", TARGET, NOT_MEASURED)]
    with tempfile.TemporaryFile("w+") as errlog:
        try:
            calls = await _measure(sizes.mcp_pairs, errlog)
        except Exception as e:
            errlog.seek(0)
            raise RuntimeError(f"the MCP server failed; its stderr:\n{errlog.read()[-4000:]}") from e
    f, o = (summarize([t.wall for t in x]) for x in (calls.library, calls.remote))
    f_cpu, o_cpu = (summarize([t.cpu for t in x]).median for x in (calls.library, calls.remote))
    extra = o.median - f.median
    server = "" if calls.server_cpu is None else f"; the server process {calls.server_cpu * 1000:.2f} ms"
    note = (
        f"MCP over stdio, CPU per call: the library call itself {f_cpu * 1000:.2f} ms (in-process); "
        f"the MCP client (the mcp SDK, in this process) {o_cpu * 1000:.2f} ms{server}."
    )
    return [
        Row(
            metric=METRIC,
            floor=f"{spread(f)}: `exec_command` on the library in-process",
            streamshell=spread(o),
            ratio=f"{extra * 1000:+.2f} ms",
            target=TARGET,
            verdict=verdict(extra <= MAX_EXTRA),
            notes=(note,),
        )
    ]


async def _measure(pairs: int, errlog: Any) -> Calls:
    """One server, one client session and one local manager for the whole run."""
    from mcp import ClientSession, StdioServerParameters, stdio_client
    from mcp.types import CallToolResult

    # The server inherits the whole environment (the SDK's default passes a safe subset only).
    server = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=dict(os.environ))
    async with (
        stdio_client(server, errlog=errlog) as (read, write),
        ClientSession(read, write) as client,
        SessionManager() as manager,
    ):
        await client.initialize()

        async def remote() -> Timing:
            elapsed = stopwatch()
            result = await client.call_tool("exec_command", ARGUMENTS)
            timing = elapsed()
            text = " ".join(getattr(c, "text", "") for c in getattr(result, "content", []))
            if not isinstance(result, CallToolResult) or result.is_error or "exited with code 0" not in text:
                raise RuntimeError(f"unexpected tools/call result: {result!r}")
            return timing

        await remote()
        await streamshell_spawn(manager)
        pid = child_pid("-m", "streamshell", "serve")
        before = None if pid is None else cpu_seconds(pid)
        library, remotes = await alternate(lambda: streamshell_spawn(manager), remote, pairs, warm_up=False)
        server_cpu = None if pid is None or before is None else (cpu_seconds(pid) - before) / pairs
    return Calls(library, remotes, server_cpu)
