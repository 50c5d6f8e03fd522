"""Adapters between model SDKs and the tools: :mod:`.messages` turns each API's tool calls into its
tool results (plain dicts, no SDK needed); :mod:`.agents_sdk` builds the OpenAI Agents SDK's
``FunctionTool`` objects (the ``agents`` extra)."""

from .agents_sdk import agents_function_tools
from .messages import (
    anthropic_tool_results,
    chat_completions_tool_messages,
    responses_function_call_outputs,
    strict_arguments,
)

__all__ = [
    "agents_function_tools",
    "anthropic_tool_results",
    "chat_completions_tool_messages",
    "responses_function_call_outputs",
    "strict_arguments",
]
