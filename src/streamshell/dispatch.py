"""Turning a model's function call into the text it gets back, as the reference's agent loop does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import StreamshellError, UnsupportedCallError
from .manager import OutputCallback, SessionManager
from .output import Exited, ExitStatus
from .params import ExecCommandParams, ShellToolCallParams, WriteStdinParams
from .shelltool import SHELL_TOOL_NAME, run_shell
from .tools import EXEC_COMMAND_TOOL_NAME, WRITE_STDIN_TOOL_NAME

Arguments = str | Mapping[str, Any] | None
"""A call's arguments: the JSON string OpenAI's APIs send, or an object already parsed (Anthropic, MCP)."""

P = TypeVar("P", ExecCommandParams, WriteStdinParams, ShellToolCallParams)


@dataclass(frozen=True)
class FunctionCallOutput:
    """The reply to one function call: ``content`` is what the model reads.

    ``success`` is True exactly when ``content`` is a ``Wall time:`` result (for
    ``shell``: when the command exited with code 0, as the reference sets it).
    ``exit_status`` says how the call left its process, for displays; None when the
    call failed before running anything.
    """

    content: str
    success: bool
    exit_status: ExitStatus | None = None


async def handle_function_call(
    manager: SessionManager, name: str, arguments: Arguments, *, on_output: OutputCallback | None = None
) -> FunctionCallOutput:
    """Parse ``arguments`` for tool ``name``, run it on ``manager``, render the result.

    Like the reference, every shell tool is dispatched whichever ones were advertised:
    ``exec_command``, ``write_stdin`` and the one-shot ``shell``. A JSON string is parsed
    with serde_json's messages and positions; a mapping is checked by the same rules.
    ``on_output`` receives the command's output live while the call waits. Every failure
    (bad arguments, unknown or ended session, spawn failure, unknown tool) comes back as
    ``success=False`` with the error's text; nothing raises.
    """
    try:
        if name == EXEC_COMMAND_TOOL_NAME:
            output = await manager.exec_command(_parse(ExecCommandParams, arguments), on_output=on_output)
        elif name == WRITE_STDIN_TOOL_NAME:
            output = await manager.write_stdin(_parse(WriteStdinParams, arguments), on_output=on_output)
        elif name == SHELL_TOOL_NAME:
            shell = await run_shell(manager, _parse(ShellToolCallParams, arguments), on_output=on_output)
            return FunctionCallOutput(shell.to_text_output(), shell.exit_code == 0, Exited(shell.exit_code))
        else:
            raise UnsupportedCallError(name)
    except StreamshellError as e:
        return FunctionCallOutput(str(e), False)
    return FunctionCallOutput(output.to_text_output(), True, output.exit_status)


def _parse(params: type[P], arguments: Arguments) -> P:
    if isinstance(arguments, str):
        return params.from_json(arguments)
    return params.from_arguments(arguments)
