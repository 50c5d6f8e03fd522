"""Serving MCP over stdio, with the protocol read and written on the event loop.

The SDK's stdio transport reads stdin and writes stdout in worker threads; a read in a
thread cannot be cancelled, and the two thread hops per message cost CPU on every call.
These replacements wait for readiness on the event loop instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import stat
from collections.abc import Iterator
from typing import Any, cast

import anyio
from mcp.server.lowlevel import Server


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


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client on stdin/stdout until stdin reaches EOF (or the serving task is cancelled)."""
    from mcp.server.stdio import stdio_server

    with _protocol_stdout() as out:
        # A regular file or /dev/null on stdin cannot be waited on (epoll refuses them), and
        # reading it never blocks: the SDK's own reader does then.
        stdin = cast("anyio.AsyncFile[str]", _StdinLines()) if _pollable(0) else None
        stdout = cast("anyio.AsyncFile[str]", _StdoutLines(out))
        async with stdio_server(stdin=stdin, stdout=stdout) as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
