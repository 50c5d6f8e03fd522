"""streamshell's tools in the shapes of each model API: tool calls in, tool results out, as plain dicts.

Every helper takes what its API's SDK returns (the SDK's objects, or the same data as
dicts), runs each tool call through :func:`handle_function_call` on the given manager, in
order, and returns the items to append to the conversation, with exactly the text the
reference sent back. No SDK is imported here.

Tool definitions: :func:`responses_api_tools`, :func:`chat_completions_tools`,
:func:`anthropic_tools` (all in :mod:`streamshell.tools.formats`). With ``strict=True`` OpenAI's
strict mode fills every omitted parameter with null: pass the same ``strict=True`` here
and the nulls are dropped before dispatch, so the tools' defaults apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..tools.backend import SessionBackend
from ..tools.dispatch import handle_function_call
from ..tools.registry import Arguments
from ..tools.schema import JsonObject


def _plain(value: Any) -> Any:
    """An SDK object (a pydantic model) as plain data; plain data as it is.

    Without serializer warnings: SDKs build streamed objects leniently, and a field the
    server left out is no reason to warn here.
    """
    dump = getattr(value, "model_dump", None)
    return dump(warnings=False) if callable(dump) else value


def _items(container: Any, field: str) -> list[Any]:
    """The list under ``field`` of an SDK object or dict, or ``container`` itself when it is a list."""
    plain = _plain(container)
    listed = plain.get(field) if isinstance(plain, Mapping) else plain
    return [_plain(item) for item in listed or ()]


def strict_arguments(arguments: Arguments) -> Arguments:
    """Arguments from a strict-mode schema with their nulls dropped: null there means "the default".

    Text that is not a JSON object is passed on unchanged, for the parser to report.
    """
    parsed = arguments
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return arguments
    if not isinstance(parsed, Mapping):
        return arguments
    return {key: value for key, value in parsed.items() if value is not None}


async def run_call(
    manager: SessionBackend, name: str, arguments: Arguments, strict: bool
) -> tuple[str, bool]:
    result = await handle_function_call(manager, name, strict_arguments(arguments) if strict else arguments)
    return result.content, result.success


async def responses_function_call_outputs(
    manager: SessionBackend, response: Any, *, strict: bool = False
) -> list[JsonObject]:
    """Run a Responses API response's ``function_call`` items; return their ``function_call_output`` items.

    ``response`` is a ``Response`` (or its dict), or its ``output`` list.
    """
    outputs = []
    for item in _items(response, "output"):
        if item.get("type") == "function_call":
            content, _ = await run_call(manager, item["name"], item["arguments"], strict)
            outputs.append({"type": "function_call_output", "call_id": item["call_id"], "output": content})
    return outputs


async def chat_completions_tool_messages(
    manager: SessionBackend, message: Any, *, strict: bool = False
) -> list[JsonObject]:
    """Run a Chat Completions assistant message's ``tool_calls``; return the ``role: "tool"`` messages."""
    replies = []
    for call in _items(message, "tool_calls"):
        function = call["function"]
        content, _ = await run_call(manager, function["name"], function["arguments"], strict)
        replies.append({"role": "tool", "tool_call_id": call["id"], "content": content})
    return replies


async def anthropic_tool_results(manager: SessionBackend, message: Any) -> list[JsonObject]:
    """Run an Anthropic message's ``tool_use`` blocks; return the ``tool_result`` blocks for the next
    user message (``is_error`` when the call failed, e.g. bad arguments or an ended session).

    ``message`` is a ``Message`` (or its dict), or its ``content`` list.
    """
    results = []
    for block in _items(message, "content"):
        if block.get("type") == "tool_use":
            content, success = await run_call(manager, block["name"], block["input"], strict=False)
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": block["id"],
                    "content": content,
                    "is_error": not success,
                }
            )
    return results
