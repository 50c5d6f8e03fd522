"""The tools in the shapes each model API and MCP expect, derived from the registry.

Without arguments the model-API helpers give exactly the reference's definitions of
``exec_command`` and ``write_stdin``; ``extended=True`` also advertises streamshell's
extra parameters; ``strict=True`` gives strict-mode schemas, whose calls carry nulls
for omitted parameters: dispatch them through :mod:`streamshell.tools.adapters`.
``profile="unified"`` gives current Codex's definitions (its names, texts and schemas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..profiles import Profile, profile_of
from .names import MCP_TOOLS, MODEL_TOOLS
from .registry import TOOLS, Tool
from .schema import JsonObject

ProfileName = Profile | str


def responses_function(
    tool: Tool[Any],
    *,
    description: str | None = None,
    extended: bool = False,
    strict: bool = False,
    escalation: bool = False,
    profile: ProfileName = Profile.REFERENCE,
) -> JsonObject:
    """One tool as a Responses API function tool (``description`` replaces the tool's own)."""
    chosen = profile_of(profile)
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.describe(chosen, extended=extended) if description is None else description,
        "strict": strict,
        "parameters": tool.parameters(
            extended=extended, strict=strict, escalation=escalation, profile=chosen
        ),
    }


def responses_api_tools(
    *, extended: bool = False, strict: bool = False, profile: ProfileName = Profile.REFERENCE
) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Responses API function tools."""
    return [
        responses_function(TOOLS[name], extended=extended, strict=strict, profile=profile)
        for name in MODEL_TOOLS
    ]


def chat_completions_tools(
    *, extended: bool = False, strict: bool = False, profile: ProfileName = Profile.REFERENCE
) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Chat Completions function tools (``strict`` as above)."""
    chosen = profile_of(profile)
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": TOOLS[name].describe(chosen, extended=extended),
                "parameters": TOOLS[name].parameters(extended=extended, strict=strict, profile=chosen),
                "strict": strict,
            },
        }
        for name in MODEL_TOOLS
    ]


def anthropic_tools(*, extended: bool = False, profile: ProfileName = Profile.REFERENCE) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Anthropic Messages API tools."""
    chosen = profile_of(profile)
    return [
        {
            "name": name,
            "description": TOOLS[name].describe(chosen, extended=extended),
            "input_schema": TOOLS[name].parameters(extended=extended, profile=chosen),
        }
        for name in MODEL_TOOLS
    ]


def mcp_tools(
    names: Sequence[str] = MCP_TOOLS, *, extended: bool = True, profile: ProfileName = Profile.REFERENCE
) -> list[JsonObject]:
    """MCP ``tools/list`` entries (wire form) for the named tools, in the order given."""
    chosen = profile_of(profile)
    return [
        {
            "name": name,
            "description": TOOLS[name].describe(chosen, extended=extended),
            "inputSchema": TOOLS[name].parameters(extended=extended, profile=chosen),
            "annotations": TOOLS[name].annotations(),
        }
        for name in names
    ]
