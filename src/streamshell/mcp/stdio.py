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
from typing import Any, NamedTuple, cast

import anyio
from mcp.server.lowlevel import Server

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


class Refusal(NamedTuple):
    """A line the SDK is not given: ``answer`` is the JSON-RPC error line to send, or None when
    none is due (a notification, a response)."""

    answer: str | None


def _structure_problem(message: Any) -> str | None:
    """Why ``message`` is not a JSON-RPC 2.0 message the SDK takes (it drops those silently)."""
    if not isinstance(message, dict):
        return "a message must be a JSON object (batches are not served)"
    if message.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" not in message:
        return None if "id" in message and ("result" in message or "error" in message) else "no method"
    if not isinstance(message["method"], str):
        return "method must be a string"
    if "id" in message and (isinstance(message["id"], bool) or not isinstance(message["id"], int | str)):
        return "id must be a string or an integer"
    if message.get("params") is not None and not isinstance(message["params"], dict):
        return "params must be an object"
    return None


def _content_problem(line: str, message: Any) -> str | None:
    """What the SDK's parser refuses in well-formed messages: lone surrogates, absurd nesting
    (looked for only when the text could hold them)."""
    from .._parsing import RECURSION_LIMIT, nesting_depth  # not at import: off the start-up path

    if line.count("[") + line.count("{") > RECURSION_LIMIT and nesting_depth(message) > RECURSION_LIMIT:
        return f"JSON nested deeper than {RECURSION_LIMIT} levels"
    if _SURROGATE_ESCAPE.search(line) and _has_lone_surrogate(message):
        return "a string holds a lone surrogate (not Unicode)"
    return None


def refusal(line: str) -> Refusal | None:
    """How to answer ``line`` when the SDK would drop it without an answer; None when the SDK
    can take it. Errors carry the request's id when it can be told (else null, as JSON-RPC asks)."""
    from .._parsing import RECURSION_LIMIT  # not at import: off the start-up path

    try:
        message = json.loads(line)  # a number past Python's digit limit: the SDK drops that too
    except RecursionError:
        return Refusal(_error(None, -32700, f"Parse error: JSON nested deeper than {RECURSION_LIMIT} levels"))
    except ValueError as e:
        return Refusal(_error(None, -32700, f"Parse error: {str(e)[:200]}"))
    problem = _structure_problem(message) or _content_problem(line, message)
    if problem is None:
        return None
    if isinstance(message, dict) and _no_answer_due(message):
        return Refusal(None)
    request_id = message.get("id") if isinstance(message, dict) else None
    if (
        isinstance(request_id, bool)
        or not isinstance(request_id, int | str)
        or _has_lone_surrogate(request_id)
    ):
        request_id = None
    return Refusal(_error(request_id, -32600, f"Invalid Request: {problem}"))


def _no_answer_due(message: dict[str, Any]) -> bool:
    """A notification (a method, no id) or a response (a result or an error, no method)."""
    if "method" in message:
        return "id" not in message
    return "result" in message or "error" in message


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
            if not line.strip(" \t\r\n"):  # a blank line is no message (JSON whitespace only)
                return line
            refused = refusal(line)
            if refused is None:
                return line
            if refused.answer is not None:
                await self._reply(refused.answer)

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
