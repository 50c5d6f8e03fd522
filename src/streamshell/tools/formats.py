"""The tools in the shapes each model API and MCP expect, derived from the registry.

Without arguments the model-API helpers give exactly the reference's definitions of
``exec_command`` and ``write_stdin``; ``extended=True`` also advertises streamshell's
extra parameters; ``strict=True`` gives strict-mode schemas, whose calls carry nulls
for omitted parameters: dispatch them through :mod:`streamshell.tools.adapters`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .registry import MCP_TOOLS, MODEL_TOOLS, TOOLS, Tool
from .schema import JsonObject


def responses_function(
    tool: Tool[Any],
    *,
    description: str | None = None,
    extended: bool = False,
    strict: bool = False,
    escalation: bool = False,
) -> JsonObject:
    """One tool as a Responses API function tool (``description`` replaces the tool's own)."""
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description if description is None else description,
        "strict": strict,
        "parameters": tool.parameters(extended=extended, strict=strict, escalation=escalation),
    }


def responses_api_tools(*, extended: bool = False, strict: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Responses API function tools."""
    return [responses_function(TOOLS[name], extended=extended, strict=strict) for name in MODEL_TOOLS]


def chat_completions_tools(*, extended: bool = False, strict: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Chat Completions function tools (``strict`` as above)."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": TOOLS[name].description,
                "parameters": TOOLS[name].parameters(extended=extended, strict=strict),
                "strict": strict,
            },
        }
        for name in MODEL_TOOLS
    ]


def anthropic_tools(*, extended: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Anthropic Messages API tools."""
    return [
        {
            "name": name,
            "description": TOOLS[name].description,
            "input_schema": TOOLS[name].parameters(extended=extended),
        }
        for name in MODEL_TOOLS
    ]


def mcp_tools(names: Sequence[str] = MCP_TOOLS, *, extended: bool = True) -> list[JsonObject]:
    """MCP ``tools/list`` entries (wire form) for the named tools, in the order given."""
    return [
        {
            "name": name,
            "description": TOOLS[name].description,
            "inputSchema": TOOLS[name].parameters(extended=extended),
            "annotations": TOOLS[name].hints.wire(),
        }
        for name in names
    ]
