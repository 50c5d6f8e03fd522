"""streamshell's tools as the OpenAI Agents SDK's ``FunctionTool`` objects (the ``agents`` extra).

The SDK is imported only when the tools are built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..tools.backend import SessionBackend
from ..tools.names import MODEL_TOOLS
from ..tools.registry import TOOLS
from .messages import run_call

if TYPE_CHECKING:
    from agents import FunctionTool, ToolContext


def agents_function_tools(
    manager: SessionBackend, *, extended: bool = False, strict: bool = True
) -> list[FunctionTool]:
    """``exec_command`` and ``write_stdin`` as OpenAI Agents SDK ``FunctionTool``s bound to ``manager``.

    ``strict`` (the SDK's recommended default) advertises the strict-mode schemas; errors
    reach the model as the tool's result text, as they do everywhere else.
    """
    from agents import FunctionTool

    return [
        FunctionTool(
            name=name,
            description=TOOLS[name].describe(manager.profile, extended=extended),
            params_json_schema=TOOLS[name].parameters(
                extended=extended, strict=strict, profile=manager.profile
            ),
            on_invoke_tool=_agents_invoker(manager, name, strict),
            strict_json_schema=strict,
        )
        for name in MODEL_TOOLS
    ]


def _agents_invoker(
    manager: SessionBackend, name: str, strict: bool
) -> Callable[[ToolContext[Any], str], Awaitable[str]]:
    """The Agents SDK's ``on_invoke_tool`` for tool ``name``: the arguments' JSON in, the result text out."""

    async def invoke(context: ToolContext[Any], arguments: str) -> str:
        content, _ = await run_call(manager, name, arguments, strict)
        return content

    return invoke
