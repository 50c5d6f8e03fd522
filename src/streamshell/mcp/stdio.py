"""Serving MCP over stdio, with the protocol read and written on the event loop.

The SDK's stdio transport reads stdin and writes stdout in worker threads; a read in a
thread cannot be cancelled, and the two thread hops per message cost CPU on every call.
These replacements wait for readiness on the event loop instead.

They also answer what the SDK would drop without a word: a line that is not JSON gets a
parse error (id null), and a request holding a lone surrogate or nested absurdly deep gets
an invalid-request error with its id. A client never waits for an answer that will not come.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import selectors
import stat
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, cast

import anyio
from mcp.server.lowlevel import Server

from .._parsing import RECURSION_LIMIT, nesting_depth

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
"""Where a lone surrogate can hide in JSON text (a pair, an escaped emoji, matches too)."""


def _error(request_id: Any, code: int, message: str) -> str:
    return (
        json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}) + "\n"
    )


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def refusal(line: str) -> str | None:
    """The JSON-RPC error answering ``line`` when the SDK would drop it without an answer, or None
    when the SDK can take it. A notification that cannot be taken is dropped (no answer is due)."""
    try:
        message = json.loads(line)
    except RecursionError:
        return _error(None, -32700, f"Parse error: JSON nested deeper than {RECURSION_LIMIT} levels")
    except ValueError as e:
        return _error(None, -32700, f"Parse error: {str(e)[:200]}")
    if line.count("[") + line.count("{") <= RECURSION_LIMIT and not _SURROGATE_ESCAPE.search(line):
        return None
    if nesting_depth(message) > RECURSION_LIMIT:
        problem = f"JSON nested deeper than {RECURSION_LIMIT} levels"
    elif _has_lone_surrogate(message):
        problem = "a string holds a lone surrogate (not Unicode)"
    else:
        return None
    request_id = message.get("id") if isinstance(message, dict) else None
    if request_id is None or isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return _error(None, -32600, f"Invalid Request: {problem}") if request_id is not None else None
    if isinstance(request_id, str) and _has_lone_surrogate(request_id):
        request_id = None
    return _error(request_id, -32600, f"Invalid Request: {problem}")


class _StdinLines:
    """stdin as the lines the SDK's stdio transport iterates over, read on the event loop.

    The SDK reads stdin in a worker thread that cannot be cancelled: a server told to
    stop by a signal would hang in that read until the client's next message, and
    its sessions would live on. This waits for readability on the loop instead, so
    cancelling the server ends the read at once. A line the SDK would drop unanswered is
    answered here (:func:`refusal`, through ``reply``) and not passed on.
    """

    def __init__(self, reply: Callable[[str], Awaitable[None]], fd: int = 0) -> None:
        self._fd = fd
        self._reply = reply
        self._buffer = bytearray()
        self._eof = False

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        while True:
            line = await self._next_line()
            if not line.strip():
                return line
            answer = refusal(line)
            if answer is None:
                return line
            await self._reply(answer)

    async def _next_line(self) -> str:
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
        self._flushing = anyio.Lock()

    async def write(self, text: str) -> None:
        # A lone surrogate cannot be encoded: written as its JSON escape, it stays valid JSON.
        self._pending += text.encode("utf-8", "backslashreplace")

    async def answer(self, line: str) -> None:
        """Write a whole line from outside the SDK's writer (a refusal); lines never interleave."""
        await self.write(line)
        await self.flush()

    async def flush(self) -> None:
        async with self._flushing:  # one waiter per fd: the SDK's writer and a refusal take turns
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


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client on stdin/stdout until stdin reaches EOF (or the serving task is cancelled)."""
    from mcp.server.stdio import stdio_server

    with _protocol_stdout() as out:
        # A regular file or /dev/null on stdin cannot be waited on (epoll refuses them), and
        # reading it never blocks: the SDK's own reader does then.
        lines_out = _StdoutLines(out)
        stdin = cast("anyio.AsyncFile[str]", _StdinLines(lines_out.answer)) if _pollable(0) else None
        stdout = cast("anyio.AsyncFile[str]", lines_out)
        async with stdio_server(stdin=stdin, stdout=stdout) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
