"""Shared test helpers: process inspection and event waits (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult

from streamshell import ExecCommandParams, Ongoing, SessionManager, WriteStdinParams

MARK = "STREAMSHELL_TEST_RUN"
"""Every test runs with a unique value of this variable, which its children inherit."""


UNSANDBOXED = ("--sandbox", "danger-full-access")
"""``serve`` flags for tests that look at the server's process tree from inside a session (``$$``,
``$PPID``, ``/proc/$PPID``): those are the host's only without the sandbox's PID namespace
(``serve`` defaults to workspace-write). The sandboxed server's cleanup is the escape table's."""


def process_state(pid: int) -> str | None:
    """The one-letter state of a process ('Z' for a zombie), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()[0].decode()


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    return process_state(pid) not in (None, "Z")


def marked_processes(value: str) -> list[tuple[int, str]]:
    """Live processes whose environment carries ``MARK=value``: what a test started."""
    needle = f"{MARK}={value}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if needle in environ and alive(pid):
            found.append((pid, cmdline))
    return found


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Wait for ``predicate`` to hold (checked every 10 ms); fail after a generous ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


NOTICE = "Session {} exited with code {} ({}); its unread output is kept."
"""An exit notice's text: session id, exit code, command."""


def body(text: str) -> str:
    """The output part of a tool result text."""
    return text.split("\nOutput:\n", 1)[1]


def host_pid(leader: int, pid: int) -> int:
    """The host's pid of the process that ``$$`` or ``$!`` called ``pid`` in the session led by
    ``leader``: the same number without a sandbox; in one, those are pids in its PID namespace
    (``NSpid``'s last field). The process must be alive, under the leader."""
    pids = [leader]
    for found in pids:
        try:
            with open(f"/proc/{found}/status") as f:
                nspid = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
            with open(f"/proc/{found}/task/{found}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            continue
        if int(nspid[-1]) == pid:
            return found
    raise AssertionError(f"no process {pid} under the session's leader {leader}")


def running_command(leader: int, name: str) -> bool:
    """Whether ``name`` runs as ``leader`` itself (after an exec) or under it (its children; in a
    sandbox, under bwrap and the namespace's init)."""
    pids = [leader]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    return True
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    return True
        except OSError:
            continue
    return False


def sh(cmd: str, **kw: object) -> ExecCommandParams:
    """A non-login command: login shells cost whatever ~/.profile costs (~190 ms here)."""
    return ExecCommandParams(cmd=cmd, login=False, **kw)  # type: ignore[arg-type]


async def start(manager: SessionManager, cmd: str, **kw: object) -> int:
    """Start ``cmd`` without waiting; return its session id."""
    out = await manager.exec_command(sh(cmd, yield_time_ms=0, **kw))
    assert isinstance(out.exit_status, Ongoing), out
    return out.exit_status.session_id


async def read_until(
    manager: SessionManager, sid: int, needle: str, seen: str = "", timeout: float = 60.0
) -> str:
    """Poll a session until ``needle`` has appeared in its output (``seen`` is what came before);
    fail after a generous ``timeout``."""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {needle!r}; output: {seen!r}")
        out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=200))
        assert out.exit_status == Ongoing(sid), (out, seen)
        seen += out.output
    return seen


async def start_until(manager: SessionManager, cmd: str, needle: str, **kw: object) -> tuple[int, str]:
    """Start ``cmd`` and read its output until ``needle`` appears."""
    out = await manager.exec_command(sh(cmd, yield_time_ms=0, **kw))
    assert isinstance(out.exit_status, Ongoing), out
    sid = out.exit_status.session_id
    return sid, await read_until(manager, sid, needle, out.output)


async def start_and_wait_for_file(
    manager: SessionManager, cmd: str, flag: Path, *, printed: int = 0, **kw: object
) -> int:
    """Start ``cmd`` (which touches ``flag`` when it has printed everything) and wait for the flag,
    then until the engine has read ``printed`` bytes of its output.

    ``cmd`` runs only once the first call has returned (it waits for a go file): on an idle
    multi-core machine a quick child would otherwise print before even a 0 ms call returns. The
    flag only says the output is in the terminal; on a loaded machine the engine may read the
    last of it after the flag appears, and a test that counts bytes must wait for that too.
    """
    go = flag.with_name(flag.name + ".go")
    go.unlink(missing_ok=True)
    out = await manager.exec_command(
        sh(f"until [ -e {go} ]; do sleep 0.01; done; {cmd}", yield_time_ms=0, **kw)
    )
    assert isinstance(out.exit_status, Ongoing)
    assert out.output == ""
    go.touch()
    await wait_until(flag.exists, what=f"{flag} to appear")
    sid = out.exit_status.session_id
    await wait_until(lambda: manager.session_info(sid).unread_bytes >= printed, what=f"{printed} bytes read")
    return sid


async def start_sleep(manager: SessionManager, seconds: int, **kw: object) -> int:
    """Start ``sleep`` and wait until it runs: a Ctrl-C typed while the shell is still forking is
    the shell's to lose (dash catches it), as at a real terminal."""
    sid = await start(manager, f"sleep {seconds}", **kw)
    pid = next(s.pid for s in manager.list_sessions() if s.session_id == sid)
    await wait_until(lambda: running_command(pid, "sleep"), what="sleep to start")
    return sid


LONG = 30_000
"""A yield in ms that no loaded machine runs out, for calls that must end by an event (exit, input
wait, a pattern), never by their time."""

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
"""A raw MCP initialize request, for tests that speak the wire format without a client."""


def tool_text(result: CallToolResult) -> tuple[str, bool]:
    """An MCP tool result's one text block, and whether it is an error."""
    [content] = result.content
    assert content.type == "text"
    return content.text, bool(result.is_error)


TOOL_CALLS = [0]
"""Tool calls made through :func:`call_tool` so far (a test compares it with the server's log)."""


async def call_tool(client: Any, name: str, arguments: dict[str, Any], **kw: Any) -> tuple[str, bool]:
    """Call a tool with an MCP ``Client`` or ``ClientSession``; its text and whether it is an error."""
    TOOL_CALLS[0] += 1
    return tool_text(await client.call_tool(name, arguments, **kw))


def progress_messages() -> tuple[list[str], Callable[[float, float | None, str | None], Awaitable[None]]]:
    """An MCP ``progress_callback`` and the list of the messages it receives, in order."""
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    return messages, on_progress


async def mcp_read_until(
    client: Any, sid: int, needle: str, *, times: int = 1, chars: str = "", seen: str = ""
) -> str:
    """Over MCP: type ``chars`` into session ``sid``, then poll until ``needle`` has appeared
    ``times`` times in its output (``seen`` is what came before)."""
    while chars or seen.count(needle) < times:
        text, error = await call_tool(
            client, "write_stdin", {"session_id": sid, "chars": chars, "yield_time_ms": 200}
        )
        assert not error, text
        seen += body(text)
        chars = ""
    return seen


async def watched_until(events: Any, needle: str, timeout: float = 60.0) -> str:
    """Read a watch's output events (nothing else may come) until ``needle`` has appeared in them."""
    from streamshell import OutputText

    seen = ""
    while needle not in seen:
        event = await asyncio.wait_for(anext(events), timeout)
        assert isinstance(event, OutputText), (event, seen)
        seen += event.text
    return seen
