"""Tool definitions the model is given, with the reference's names, descriptions and schemas."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

EXEC_COMMAND_TOOL_NAME = "exec_command"
WRITE_STDIN_TOOL_NAME = "write_stdin"
LIST_SESSIONS_TOOL_NAME = "list_sessions"
KILL_SESSION_TOOL_NAME = "kill_session"

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, description and JSON-schema properties (sorted by name, as the reference)."""

    name: str
    description: str
    properties: dict[str, JsonObject]
    required: tuple[str, ...]
    extra_properties: dict[str, JsonObject] = field(default_factory=dict)
    annotations: JsonObject = field(default_factory=dict)
    """MCP tool annotations (wire names): what a client may assume about the tool."""

    def parameters(self, *, extended: bool = False, strict: bool = False) -> JsonObject:
        """The JSON schema of the arguments; ``extended`` adds streamshell's extra parameters.

        ``strict`` gives the form OpenAI's strict function calling demands: every property
        required, the optional ones nullable (null means the default), no free-form objects
        (so ``env``, a map of any names, is left out).
        """
        props = dict(self.properties)
        if extended:
            props.update(self.extra_properties)
        if strict:
            props = {
                name: prop if name in self.required else _nullable(prop)
                for name, prop in props.items()
                if not _is_open_object(prop)
            }
        names = sorted(props)
        return {
            "type": "object",
            "properties": {name: copy.deepcopy(props[name]) for name in names},
            "required": names if strict else list(self.required),
            "additionalProperties": False,
        }


def _nullable(prop: JsonObject) -> JsonObject:
    """``prop`` that also accepts null (strict mode's way of saying "optional")."""
    return {**prop, "type": [prop["type"], "null"]}


def _is_open_object(prop: JsonObject) -> bool:
    """Whether ``prop`` is an object with free-form keys, which strict mode cannot express."""
    return "object" in prop["type"] and prop.get("additionalProperties") not in (None, False)


def _prop(json_type: str, description: str) -> JsonObject:
    return {"type": json_type, "description": description}


def _hints(
    title: str, *, read_only: bool, destructive: bool, idempotent: bool, open_world: bool
) -> JsonObject:
    """MCP tool annotations in their wire form."""
    return {
        "title": title,
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": open_world,
    }


EXEC_COMMAND = ToolSpec(
    name=EXEC_COMMAND_TOOL_NAME,
    description="Execute shell commands on the local machine with streaming output.",
    properties={
        "cmd": _prop("string", "The shell command to execute."),
        "yield_time_ms": _prop("number", "The maximum time in milliseconds to wait for output."),
        "max_output_tokens": _prop("number", "The maximum number of tokens to output."),
        "shell": _prop("string", 'The shell to use. Defaults to "/bin/bash".'),
        "login": _prop("boolean", "Whether to run the command as a login shell. Defaults to true."),
    },
    required=("cmd",),
    extra_properties={
        "workdir": _prop("string", "The working directory for the command. Defaults to the server's."),
        "env": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "Extra environment variables for the command.",
        },
        "tty": _prop(
            "boolean",
            "Whether to run the command in a pseudo-terminal. Defaults to true. false runs it on pipes: "
            "much faster for bulk output, no echo and no \\r\\n; \\u0003 still interrupts it.",
        ),
    },
    annotations=_hints(
        "Run a shell command", read_only=False, destructive=True, idempotent=False, open_world=True
    ),
)

WRITE_STDIN = ToolSpec(
    name=WRITE_STDIN_TOOL_NAME,
    description=(
        "Write characters to an exec session's stdin. "
        "Returns all stdout+stderr received within yield_time_ms.\n"
        "Can write control characters (\\u0003 for Ctrl-C), or an empty string to just poll stdout+stderr."
    ),
    properties={
        "session_id": _prop("number", "The ID of the exec_command session."),
        "chars": _prop("string", "The characters to write to stdin."),
        "yield_time_ms": _prop(
            "number", "The maximum time in milliseconds to wait for output after writing."
        ),
        "max_output_tokens": _prop("number", "The maximum number of tokens to output."),
    },
    required=("session_id", "chars"),
    annotations=_hints(
        "Type into a running command", read_only=False, destructive=True, idempotent=False, open_world=True
    ),
)

LIST_SESSIONS = ToolSpec(
    name=LIST_SESSIONS_TOOL_NAME,
    description=(
        "List the open exec_command sessions: id, command, pid, whether it runs (or its exit code), "
        "when it started and when it was last used."
    ),
    properties={},
    required=(),
    annotations=_hints(
        "List shell sessions", read_only=True, destructive=False, idempotent=True, open_world=False
    ),
)

KILL_SESSION = ToolSpec(
    name=KILL_SESSION_TOOL_NAME,
    description=(
        "Kill an exec_command session and every process it started (SIGHUP and SIGTERM, then SIGKILL). "
        "Returns its last output and exit code."
    ),
    properties={
        "session_id": _prop("number", "The ID of the exec_command session."),
        "max_output_tokens": _prop("number", "The maximum number of tokens to output."),
    },
    required=("session_id",),
    annotations=_hints(
        "Kill a shell session", read_only=False, destructive=True, idempotent=True, open_world=False
    ),
)

TOOL_SPECS = (EXEC_COMMAND, WRITE_STDIN)
"""The reference's two tools: what the model-API formats advertise."""

ALL_TOOL_SPECS = {spec.name: spec for spec in (EXEC_COMMAND, WRITE_STDIN, LIST_SESSIONS, KILL_SESSION)}
"""Every tool the MCP server can serve, by name."""


def responses_api_tools(*, extended: bool = False, strict: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Responses API function tools.

    Without arguments these equal the reference's definitions exactly;
    ``extended=True`` also advertises ``workdir``, ``env`` and ``tty``; ``strict=True``
    gives strict-mode schemas (see :meth:`ToolSpec.parameters`), whose calls carry
    nulls for omitted parameters: dispatch them through :mod:`streamshell.adapters`.
    """
    return [
        {
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "strict": strict,
            "parameters": spec.parameters(extended=extended, strict=strict),
        }
        for spec in TOOL_SPECS
    ]


def chat_completions_tools(*, extended: bool = False, strict: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Chat Completions function tools (``strict`` as above)."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": spec.parameters(extended=extended, strict=strict),
                "strict": strict,
            },
        }
        for spec in TOOL_SPECS
    ]


def anthropic_tools(*, extended: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Anthropic Messages API tools."""
    return [
        {
            "name": spec.name,
            "description": spec.description,
            "input_schema": spec.parameters(extended=extended),
        }
        for spec in TOOL_SPECS
    ]


def mcp_tools(names: Sequence[str] = tuple(ALL_TOOL_SPECS), *, extended: bool = True) -> list[JsonObject]:
    """MCP ``tools/list`` entries (wire form) for the named tools, in the order given."""
    return [
        {
            "name": ALL_TOOL_SPECS[name].name,
            "description": ALL_TOOL_SPECS[name].description,
            "inputSchema": ALL_TOOL_SPECS[name].parameters(extended=extended),
            "annotations": dict(ALL_TOOL_SPECS[name].annotations),
        }
        for name in names
    ]
