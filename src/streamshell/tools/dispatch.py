"""The one dispatcher: a tool call in, the text the model reads out, as the reference's agent loop.

The library, ``streamshell call``, the MCP server, the adapters and the agent all send
their calls here.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from ..errors import StreamshellError, UnsupportedCallError
from .backend import OutputCallback, SessionBackend
from .registry import TOOLS, Arguments, FunctionCallOutput

log = logging.getLogger(__name__)


async def handle_function_call(
    manager: SessionBackend,
    name: str,
    arguments: Arguments,
    *,
    on_output: OutputCallback | None = None,
    tools: Collection[str] | None = None,
) -> FunctionCallOutput:
    """Parse ``arguments`` for tool ``name``, run it on ``manager``, render the result.

    Like the reference, every shell tool is dispatched whichever ones were advertised;
    ``tools`` narrows that to the names given (what an MCP server serves). A JSON string is
    parsed with serde_json's messages and positions; a mapping is checked by the same
    rules. ``on_output`` receives the command's output live while the call waits. Every
    failure (bad arguments, unknown or ended session, spawn failure, unknown tool) comes
    back as ``success=False, error=True`` with the error's text; nothing raises (an unexpected
    exception, a bug, is logged and answered as ``NAME failed: ...``).
    """
    tool = TOOLS.get(name)
    try:
        if tool is None or (tools is not None and name not in tools):
            raise UnsupportedCallError(name)
        return await tool.call(manager, arguments, on_output)
    except StreamshellError as e:
        return FunctionCallOutput.failure(str(e))
    except Exception as e:
        log.exception("%s failed", name)
        return FunctionCallOutput.failure(f"{name} failed: {type(e).__name__}: {e}")
