"""streamshell: long-running, interactive shell sessions for LLM agents.

The two tools of OpenAI Codex PR #2574, ``exec_command`` and ``write_stdin``,
as an asyncio library: real PTYs, output kept between calls, exits reported,
process groups owned and killed.

This module is the facade: the names in ``__all__`` are the public API. The layers
underneath: :mod:`streamshell._engine` (sessions, processes, output),
:mod:`streamshell.tools` (the tool registry, dispatch, schemas, adapters),
:mod:`streamshell.mcp` (the MCP server), :mod:`streamshell.cli` (the command line).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from ._engine.manager import SessionManager
from ._engine.options import ManagerOptions
from ._engine.truncation import truncate_middle
from ._version import __version__
from .errors import (
    ExecutionError,
    InvalidArgumentsError,
    ManagerClosedError,
    NoTerminalError,
    SessionEndedError,
    SpawnError,
    StreamshellError,
    UnknownSessionError,
    UnsupportedCallError,
    WriteError,
)
from .params import ExecCommandParams, ShellToolCallParams, WriteStdinParams
from .results import ExecCommandOutput, Exited, ExitStatus, Ongoing, SessionInfo
from .tools.dispatch import handle_function_call
from .tools.formats import anthropic_tools, chat_completions_tools, responses_api_tools
from .tools.registry import FunctionCallOutput
from .tools.shell import ShellOutput, run_shell

__all__ = [
    "ExecCommandOutput",
    "ExecCommandParams",
    "ExecutionError",
    "ExitStatus",
    "Exited",
    "FunctionCallOutput",
    "InvalidArgumentsError",
    "ManagerClosedError",
    "ManagerOptions",
    "NoTerminalError",
    "Ongoing",
    "SessionEndedError",
    "SessionInfo",
    "SessionManager",
    "ShellOutput",
    "ShellToolCallParams",
    "SpawnError",
    "StreamshellError",
    "UnknownSessionError",
    "UnsupportedCallError",
    "WriteError",
    "WriteStdinParams",
    "__version__",
    "anthropic_tools",
    "chat_completions_tools",
    "handle_function_call",
    "responses_api_tools",
    "run_shell",
    "truncate_middle",
]

_MOVED = {
    "agents_function_tools": "streamshell.tools.adapters",
    "anthropic_tool_results": "streamshell.tools.adapters",
    "chat_completions_tool_messages": "streamshell.tools.adapters",
    "responses_function_call_outputs": "streamshell.tools.adapters",
    "strict_arguments": "streamshell.tools.adapters",
    "AskForApproval": "streamshell.tools.toolsconfig",
    "SandboxMode": "streamshell.tools.toolsconfig",
    "SandboxPolicy": "streamshell.tools.toolsconfig",
    "ShellToolType": "streamshell.tools.toolsconfig",
    "ToolsConfig": "streamshell.tools.toolsconfig",
    "EXEC_COMMAND_TOOL_NAME": "streamshell.tools.registry",
    "WRITE_STDIN_TOOL_NAME": "streamshell.tools.registry",
    "SHELL_TOOL_NAME": "streamshell.tools.registry",
    "Captured": "streamshell._engine.buffer",
    "OutputBuffer": "streamshell._engine.buffer",
    "approx_token_count": "streamshell._engine.truncation",
}
"""Names that ``streamshell`` exported before 0.2, now in their modules: still importable from
here for one release, with a DeprecationWarning that says where they went."""


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'streamshell' has no attribute {name!r}")
    warnings.warn(
        f"streamshell.{name} moved to {module}.{name}; the old name goes away in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)
