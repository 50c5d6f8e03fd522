"""streamshell: long-running, interactive shell sessions for LLM agents.

The two tools of OpenAI Codex PR #2574, ``exec_command`` and ``write_stdin``,
as an asyncio library: real PTYs, output kept between calls, exits reported,
process groups owned and killed.

This module is the facade: the names in ``__all__`` are the public API. The layers
underneath: :mod:`streamshell._engine` (sessions, processes, output),
:mod:`streamshell.tools` (the tool registry, dispatch, schemas, adapters),
:mod:`streamshell.mcp` (the MCP server), :mod:`streamshell.cli` (the command line), and
:mod:`streamshell.cluster` (sessions on a Ray cluster: imported only when used, it needs Ray).
"""

from __future__ import annotations

from typing import Any

from . import _moved
from ._engine.manager import SessionManager
from ._engine.options import ManagerOptions
from ._engine.truncation import truncate_middle
from ._version import __version__
from .adapters import (
    agents_function_tools,
    anthropic_tool_results,
    chat_completions_tool_messages,
    responses_function_call_outputs,
    strict_arguments,
)
from .errors import (
    ClusterError,
    ExecutionError,
    InvalidArgumentsError,
    ManagerClosedError,
    NoTerminalError,
    SessionEndedError,
    SessionLostError,
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
from .tools.toolsconfig import AskForApproval, SandboxMode, SandboxPolicy, ShellToolType, ToolsConfig

__all__ = [
    "AskForApproval",
    "ClusterError",
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
    "SandboxMode",
    "SandboxPolicy",
    "SessionEndedError",
    "SessionInfo",
    "SessionLostError",
    "SessionManager",
    "ShellOutput",
    "ShellToolCallParams",
    "ShellToolType",
    "SpawnError",
    "StreamshellError",
    "ToolsConfig",
    "UnknownSessionError",
    "UnsupportedCallError",
    "WriteError",
    "WriteStdinParams",
    "__version__",
    "agents_function_tools",
    "anthropic_tool_results",
    "anthropic_tools",
    "chat_completions_tool_messages",
    "chat_completions_tools",
    "handle_function_call",
    "responses_api_tools",
    "responses_function_call_outputs",
    "run_shell",
    "strict_arguments",
    "truncate_middle",
]

_moved.install()


def __getattr__(name: str) -> Any:
    return _moved.moved_name(__name__, name)
