"""Turning a model's function call into the text it gets back, as the reference's agent loop does."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import StreamshellError, UnsupportedCallError
from .manager import SessionManager
from .params import ExecCommandParams, WriteStdinParams
from .tools import EXEC_COMMAND_TOOL_NAME, WRITE_STDIN_TOOL_NAME


@dataclass(frozen=True)
class FunctionCallOutput:
    """The reply to one function call: ``content`` is what the model reads.

    ``success`` is True exactly when ``content`` is a ``Wall time:`` result.
    """

    content: str
    success: bool


async def handle_function_call(manager: SessionManager, name: str, arguments: str) -> FunctionCallOutput:
    """Parse ``arguments`` (a JSON string) for tool ``name``, run it on ``manager``, render the result.

    Every failure (bad arguments, unknown or ended session, spawn failure, unknown
    tool) comes back as ``success=False`` with the error's text; nothing raises.
    """
    try:
        if name == EXEC_COMMAND_TOOL_NAME:
            output = await manager.exec_command(ExecCommandParams.from_json(arguments))
        elif name == WRITE_STDIN_TOOL_NAME:
            output = await manager.write_stdin(WriteStdinParams.from_json(arguments))
        else:
            raise UnsupportedCallError(name)
    except StreamshellError as e:
        return FunctionCallOutput(str(e), False)
    return FunctionCallOutput(output.to_text_output(), True)
