"""The MCP server: the registry's tools, served with the official ``mcp`` SDK's low-level ``Server``.

The low-level ``Server`` is used rather than ``MCPServer``: the tools keep the
reference's hand-written input schemas, and arguments reach streamshell's own checks
untouched (``MCPServer`` would validate them with pydantic first, coerce ``"3"`` to
``3``, ignore unknown fields and prefix every error). Every call goes through the one
dispatcher. Each client (MCP session) gets its own session manager (:mod:`.clients`), or
all share one, made by the client's first tool call (answering ``initialize`` loads none of
the tools or the engine); the server's lifespan closes them all (every session killed) when
it stops.

This module imports the SDK: the CLI imports it only to serve.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
)

from .._version import __version__
from ..profiles import Profile
from ..tools.names import MCP_TOOLS, TOOL_NAMES
from .clients import BackendFactory, ClientTables
from .connections import connection_of
from .notices import ExitNotifier, logging_handler, quietly, send_with_result

if TYPE_CHECKING:
    from ..tools.backend import OutputCallback
    from ..tools.registry import FunctionCallOutput

    Context = ServerRequestContext[ClientTables]

log = logging.getLogger("streamshell")

SERVER_NAME = "streamshell"
INSTRUCTIONS = (
    "exec_command runs a shell command in a pseudo-terminal and returns its output, with its exit code, "
    "or a session ID while it still runs; write_stdin types into that session (\\u0003 is Ctrl-C) or, "
    "with empty chars, polls it. Output printed between calls is kept for the next call. A call returns "
    "as soon as the program waits for input; a session that exits between calls is named in the next "
    "result."
)


async def _dispatch(ctx: Context, params: CallToolRequestParams, tools: Sequence[str]) -> FunctionCallOutput:
    """Run the call through the dispatcher, streaming its output as progress notifications when
    the client asked for them (it passed a progress token)."""
    from ..errors import ManagerClosedError
    from ..tools.dispatch import handle_function_call
    from ..tools.registry import FunctionCallOutput

    try:
        backend = ctx.lifespan_context.backend(connection_of(ctx.session))
    except ManagerClosedError as e:  # a call that arrives while the server stops
        return FunctionCallOutput.failure(str(e))

    async def call(sink: OutputCallback | None) -> FunctionCallOutput:
        return await handle_function_call(backend, params.name, params.arguments, on_output=sink, tools=tools)

    if not (ctx.meta and ctx.meta.get("progress_token") is not None):
        return await call(None)
    from .progress import ProgressStream

    stream = ProgressStream(ctx.session)
    async with anyio.create_task_group() as tg:
        tg.start_soon(stream.run)
        try:
            result = await call(stream.feed)
        finally:
            stream.finish()
    return result


def build_server(
    backend_factory: BackendFactory,
    *,
    tools: Sequence[str] = MCP_TOOLS,
    extended: bool = True,
    profile: Profile = Profile.REFERENCE,
    shared_sessions: bool = False,
) -> Server[ClientTables]:
    """An MCP server serving ``tools`` (any of the registry's); ``extended`` advertises
    streamshell's extra parameters; ``profile`` whose definitions to advertise (the backends the
    factory makes must follow the same profile).

    ``backend_factory`` makes a session manager for each client (for all of them with
    ``shared_sessions``) when its first tool call needs it; the server owns them and closes
    them when their clients leave or it stops.
    """
    unknown = [name for name in tools if name not in TOOL_NAMES]
    if unknown:
        raise ValueError(f"unknown tools {unknown}; choose from {', '.join(TOOL_NAMES)}")
    listed: list[Tool] = []
    notifier = ExitNotifier()

    @asynccontextmanager
    async def lifespan(_: Server[ClientTables]) -> AsyncIterator[ClientTables]:
        tables = ClientTables(backend_factory, shared=shared_sessions, notify=notifier.push)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(notifier.run)
                try:
                    yield tables
                finally:
                    tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):  # kill every session even while being cancelled
                await tables.aclose()

    async def list_tools(ctx: Context, params: PaginatedRequestParams | None) -> ListToolsResult:
        if not listed:  # worked out once, when first asked
            from ..tools.formats import mcp_tools

            wire = mcp_tools(tools, extended=extended, profile=profile)
            listed.extend(Tool.model_validate(tool) for tool in wire)
        return ListToolsResult(tools=listed)

    async def call_tool(ctx: Context, params: CallToolRequestParams) -> CallToolResult:
        started = time.monotonic()
        notifier.remember(ctx.session)
        result = await _dispatch(ctx, params, tools)
        await send_with_result(ctx.session, ctx.request_id, result.exit_notices)
        wall = time.monotonic() - started
        if result.error:
            first_line = result.content.split("\n", 1)[0]
            log.info("%s error wall=%.3fs: %s", params.name, wall, first_line)
        else:
            log.info("%s %s wall=%.3fs", params.name, result.summary(), wall)
        return CallToolResult(content=[TextContent(type="text", text=result.content)], is_error=result.error)

    return quietly(
        lambda: Server(
            SERVER_NAME,
            version=__version__,
            instructions=INSTRUCTIONS,
            lifespan=lifespan,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_set_logging_level=logging_handler(notifier),
        )
    )
