"""Tool definitions the model is given, with the reference's names, descriptions and schemas."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

EXEC_COMMAND_TOOL_NAME = "exec_command"
WRITE_STDIN_TOOL_NAME = "write_stdin"

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, description and JSON-schema properties (sorted by name, as the reference)."""

    name: str
    description: str
    properties: dict[str, JsonObject]
    required: tuple[str, ...]
    extra_properties: dict[str, JsonObject] = field(default_factory=dict)

    def parameters(self, *, extended: bool = False) -> JsonObject:
        """The JSON schema of the arguments; ``extended`` adds streamshell's extra parameters."""
        props = dict(self.properties)
        if extended:
            props.update(self.extra_properties)
        return {
            "type": "object",
            "properties": {name: copy.deepcopy(props[name]) for name in sorted(props)},
            "required": list(self.required),
            "additionalProperties": False,
        }


def _prop(json_type: str, description: str) -> JsonObject:
    return {"type": json_type, "description": description}


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
)

TOOL_SPECS = (EXEC_COMMAND, WRITE_STDIN)


def responses_api_tools(*, extended: bool = False) -> list[JsonObject]:
    """``[exec_command, write_stdin]`` as Responses API function tools.

    Without arguments these equal the reference's definitions exactly;
    ``extended=True`` also advertises ``workdir``, ``env`` and ``tty``.
    """
    return [
        {
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "strict": False,
            "parameters": spec.parameters(extended=extended),
        }
        for spec in TOOL_SPECS
    ]
