"""The MCP server: streamshell's tools over stdio or Streamable HTTP, with the official ``mcp`` SDK.

The SDK's low-level ``Server`` is used rather than ``MCPServer``: the tools keep
the reference's hand-written input schemas, and arguments reach streamshell's own
checks untouched (``MCPServer`` would validate them with pydantic first, coerce
``"3"`` to ``3``, ignore unknown fields and prefix every error). One
``SessionManager`` lives in the server's lifespan, shared by every client, and is
closed (every session's process group killed) when the server stops.

This module imports the SDK (~1.7 s): the CLI imports it only to serve.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import logging
import os
import selectors
import socket
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
)

from . import __version__
from .errors import StreamshellError, UnsupportedCallError
from .manager import SessionInfo, SessionManager
from .output import ExecCommandOutput, Exited
from .params import ExecCommandParams, KillSessionParams, ListSessionsParams, WriteStdinParams
from .tools import (
    ALL_TOOL_SPECS,
    EXEC_COMMAND_TOOL_NAME,
    KILL_SESSION_TOOL_NAME,
    LIST_SESSIONS_TOOL_NAME,
    WRITE_STDIN_TOOL_NAME,
    mcp_tools,
)

log = logging.getLogger("streamshell")

SERVER_NAME = "streamshell"
INSTRUCTIONS = (
    "exec_command runs a shell command in a pseudo-terminal and returns its output, with its exit code, "
    "or a session ID while it still runs; write_stdin types into that session (\\u0003 is Ctrl-C) or, "
    "with empty chars, polls it. Output printed between calls is kept for the next call."
)

ManagerFactory = Callable[[], SessionManager]
Context = ServerRequestContext[SessionManager]
OutputSink = Callable[[str], None]


class _ProgressStream:
    """Forwards a call's output as MCP progress notifications while the call waits.

    The session's reader calls :meth:`feed` synchronously; :meth:`run` sends what
    accumulated, one notification at a time, in order. While a send is in flight
    new output is coalesced, and at most ``max_pending`` characters wait: a flood
    keeps its newest part and a ``…N characters skipped…`` line stands in for the
    rest (the call's result still has the whole, truncated output).
    """

    def __init__(self, session: ServerSession, max_pending: int = 64 * 1024) -> None:
        self._session = session
        self._max_pending = max_pending
        self._pending: list[str] = []
        self._pending_len = 0
        self._skipped = 0
        self._sent = 0
        self._ready = anyio.Event()
        self._done = False

    def feed(self, text: str) -> None:
        self._pending.append(text)
        self._pending_len += len(text)
        while self._pending_len > self._max_pending and len(self._pending) > 1:
            dropped = self._pending.pop(0)
            self._pending_len -= len(dropped)
            self._skipped += len(dropped)
        self._ready.set()

    def finish(self) -> None:
        self._done = True
        self._ready.set()

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready = anyio.Event()
            message = self._take()
            if message:
                self._sent += len(message)
                await self._session.report_progress(self._sent, None, message)
            if self._done and not self._pending:
                return

    def _take(self) -> str:
        text = "".join(self._pending)
        if self._skipped:
            text = f"…{self._skipped} characters skipped…\n{text}"
        self._pending.clear()
        self._pending_len = self._skipped = 0
        return text


async def _with_progress(
    ctx: Context, call: Callable[[OutputSink | None], Awaitable[ExecCommandOutput]]
) -> ExecCommandOutput:
    """Run ``call``, streaming its output as progress notifications when the client asked for them."""
    if not (ctx.meta and ctx.meta.get("progress_token") is not None):
        return await call(None)
    stream = _ProgressStream(ctx.session)
    failure: StreamshellError | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(stream.run)
        try:
            out = await call(stream.feed)
        except StreamshellError as e:  # raised past the task group, it would come out as a group
            failure = e
        finally:
            stream.finish()
    if failure is not None:
        raise failure
    return out


def _text(text: str, *, error: bool = False) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=error)


def _session_json(info: SessionInfo) -> dict[str, Any]:
    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {
        "session_id": info.session_id,
        "command": info.command,
        "pid": info.pid,
        "tty": info.tty,
        "running": info.running,
        "exit_code": info.exit_code,
        "started_at": iso(info.started_at),
        "last_used_at": iso(info.last_used_at),
    }


def _describe(out: ExecCommandOutput) -> str:
    """``session=N running`` or ``session=N exited=C``, for the log line."""
    status = f"exited={out.exit_status.code}" if isinstance(out.exit_status, Exited) else "running"
    return f"session={out.session_id} {status}"


async def _exec_command(ctx: Context, arguments: Mapping[str, Any] | None) -> tuple[str, str]:
    params = ExecCommandParams.from_arguments(arguments)
    out = await _with_progress(ctx, lambda sink: ctx.lifespan_context.exec_command(params, on_output=sink))
    return out.to_text_output(), _describe(out)


async def _write_stdin(ctx: Context, arguments: Mapping[str, Any] | None) -> tuple[str, str]:
    params = WriteStdinParams.from_arguments(arguments)
    out = await _with_progress(ctx, lambda sink: ctx.lifespan_context.write_stdin(params, on_output=sink))
    return out.to_text_output(), _describe(out)


async def _list_sessions(ctx: Context, arguments: Mapping[str, Any] | None) -> tuple[str, str]:
    ListSessionsParams.from_arguments(arguments)
    sessions = ctx.lifespan_context.list_sessions()
    return json.dumps([_session_json(s) for s in sessions], indent=1), f"{len(sessions)} sessions"


async def _kill_session(ctx: Context, arguments: Mapping[str, Any] | None) -> tuple[str, str]:
    params = KillSessionParams.from_arguments(arguments)
    out = await ctx.lifespan_context.kill_session(
        params.session_id, max_output_tokens=params.max_output_tokens
    )
    return out.to_text_output(), _describe(out)


_HANDLERS: dict[str, Callable[[Context, Mapping[str, Any] | None], Awaitable[tuple[str, str]]]] = {
    EXEC_COMMAND_TOOL_NAME: _exec_command,
    WRITE_STDIN_TOOL_NAME: _write_stdin,
    LIST_SESSIONS_TOOL_NAME: _list_sessions,
    KILL_SESSION_TOOL_NAME: _kill_session,
}


def build_server(
    manager_factory: ManagerFactory,
    *,
    tools: Sequence[str] = tuple(ALL_TOOL_SPECS),
    extended: bool = True,
) -> Server[SessionManager]:
    """An MCP server serving ``tools``; ``extended`` advertises workdir/env/tty on exec_command.

    ``manager_factory`` makes the one session manager the server owns for its lifetime.
    """
    unknown = [name for name in tools if name not in ALL_TOOL_SPECS]
    if unknown:
        raise ValueError(f"unknown tools {unknown}; choose from {', '.join(ALL_TOOL_SPECS)}")
    listed = [Tool.model_validate(tool) for tool in mcp_tools(tools, extended=extended)]

    @asynccontextmanager
    async def lifespan(_: Server[SessionManager]) -> AsyncIterator[SessionManager]:
        manager = manager_factory()
        try:
            yield manager
        finally:
            with anyio.CancelScope(shield=True):  # kill every group even while being cancelled
                await manager.aclose()

    async def list_tools(ctx: Context, params: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=listed)

    async def call_tool(ctx: Context, params: CallToolRequestParams) -> CallToolResult:
        started = time.monotonic()
        try:
            if params.name not in tools:
                raise UnsupportedCallError(params.name)
            text, summary = await _HANDLERS[params.name](ctx, params.arguments)
        except StreamshellError as e:
            log.info(
                "%s error wall=%.3fs: %s", params.name, time.monotonic() - started, str(e).splitlines()[0]
            )
            return _text(str(e), error=True)
        log.info("%s %s wall=%.3fs", params.name, summary, time.monotonic() - started)
        return _text(text)

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class _StdinLines:
    """stdin as the lines the SDK's stdio transport iterates over, read on the event loop.

    The SDK reads stdin in a worker thread that cannot be cancelled: a server told to
    stop by a signal would hang in that read until the client's next message, and
    its sessions would live on. This waits for readability on the loop instead, so
    cancelling the server ends the read at once.
    """

    def __init__(self, fd: int = 0) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._eof = False

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        while (end := self._buffer.find(b"\n")) < 0 and not self._eof:
            await anyio.wait_readable(self._fd)
            data = os.read(self._fd, 65536)
            self._eof = not data
            self._buffer += data
        if end < 0:
            if not self._buffer:
                raise StopAsyncIteration
            end = len(self._buffer) - 1
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line.decode("utf-8", "replace")


class _StdoutLines:
    """The protocol's output for the SDK's stdio transport, written on the event loop.

    The SDK writes each message through a worker thread: two thread hops per message, a
    third of the server's CPU per tool call (BENCHMARKS.md, MCP row). This writes the
    protocol's own copy of stdout directly, non-blocking on a pipe or socket, waiting for
    room on the loop when the client reads slowly.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = bytearray()

    async def write(self, text: str) -> None:
        self._pending += text.encode()

    async def flush(self) -> None:
        while self._pending:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                await anyio.wait_writable(self._fd)
                continue
            del self._pending[:written]


@contextlib.contextmanager
def _protocol_stdout() -> Iterator[int]:
    """A private copy of stdout for the protocol, while fd 1 points at stderr.

    As the SDK does: a stray print (ours, a library's) must not corrupt the protocol
    stream. The copy is non-blocking only on a pipe or socket, which no other process
    shares; a terminal's file is shared with the shell that started us.
    """
    private = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    mode = os.fstat(private).st_mode
    nonblocking = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
    os.dup2(2, 1)
    try:
        if nonblocking:
            os.set_blocking(private, False)
        yield private
    finally:
        if nonblocking:
            os.set_blocking(private, True)
        os.dup2(private, 1)
        os.close(private)


def _pollable(fd: int) -> bool:
    """Whether the event loop can wait for ``fd`` to be readable."""
    with selectors.DefaultSelector() as selector:
        try:
            selector.register(fd, selectors.EVENT_READ)
        except (OSError, ValueError):
            return False
    return True


async def serve_stdio(server: Server[SessionManager]) -> None:
    """Serve one client on stdin/stdout until stdin reaches EOF (or the serving task is cancelled)."""
    from mcp.server.stdio import stdio_server

    with _protocol_stdout() as out:
        # A regular file or /dev/null on stdin cannot be waited on (epoll refuses them), and
        # reading it never blocks: the SDK's own reader does then.
        stdin = cast("anyio.AsyncFile[str]", _StdinLines()) if _pollable(0) else None
        stdout = cast("anyio.AsyncFile[str]", _StdoutLines(out))
        async with stdio_server(stdin=stdin, stdout=stdout) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())


def _security(host: str, allowed_hosts: Sequence[str]) -> TransportSecuritySettings:
    """DNS-rebinding protection (the MCP spec's Host and Origin checks): requests must name
    loopback, the served address or one of ``allowed_hosts`` (how remote clients reach a
    server bound to a wildcard address like 0.0.0.0)."""
    names = ("127.0.0.1", "localhost", "::1", host, *allowed_hosts)
    hosts = {f"[{name}]:*" if ":" in name else f"{name}:*" for name in names}
    origins = {f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=sorted(hosts), allowed_origins=sorted(origins)
    )


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>`` (else 401)."""

    def __init__(self, app: Any, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b"missing or wrong bearer token\n"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="streamshell"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self._app(scope, receive, send)


async def serve_http(
    server: Server[SessionManager], sock: socket.socket, token: str, allowed_hosts: Sequence[str] = ()
) -> None:
    """Serve Streamable HTTP at ``/mcp`` on an already bound socket, behind a bearer token."""
    import uvicorn

    host = sock.getsockname()[0]
    security = _security(host, allowed_hosts)
    app = server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
    config = uvicorn.Config(BearerAuth(app, token), log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])
