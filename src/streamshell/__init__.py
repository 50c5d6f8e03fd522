"""streamshell: long-running, interactive shell sessions for LLM agents.

The two tools of OpenAI Codex PR #2574, ``exec_command`` and ``write_stdin``,
as an asyncio library: real PTYs, output kept between calls, exits reported,
process groups owned and killed.
"""

__version__ = "0.1.0"

from .adapters import (
    agents_function_tools,
    anthropic_tool_results,
    chat_completions_tool_messages,
    responses_function_call_outputs,
    strict_arguments,
)
from .buffer import Captured, OutputBuffer
from .dispatch import FunctionCallOutput, handle_function_call
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
from .manager import SessionInfo, SessionManager
from .output import ExecCommandOutput, Exited, ExitStatus, Ongoing
from .params import ExecCommandParams, ShellToolCallParams, WriteStdinParams
from .shelltool import SHELL_TOOL_NAME, ShellOutput, run_shell
from .tools import (
    EXEC_COMMAND_TOOL_NAME,
    WRITE_STDIN_TOOL_NAME,
    anthropic_tools,
    chat_completions_tools,
    responses_api_tools,
)
from .toolsconfig import AskForApproval, SandboxMode, SandboxPolicy, ShellToolType, ToolsConfig
from .truncation import approx_token_count, truncate_middle

__all__ = [
    "EXEC_COMMAND_TOOL_NAME",
    "SHELL_TOOL_NAME",
    "WRITE_STDIN_TOOL_NAME",
    "AskForApproval",
    "Captured",
    "ExecCommandOutput",
    "ExecCommandParams",
    "ExecutionError",
    "ExitStatus",
    "Exited",
    "FunctionCallOutput",
    "InvalidArgumentsError",
    "ManagerClosedError",
    "NoTerminalError",
    "Ongoing",
    "OutputBuffer",
    "SandboxMode",
    "SandboxPolicy",
    "SessionEndedError",
    "SessionInfo",
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
    "approx_token_count",
    "chat_completions_tool_messages",
    "chat_completions_tools",
    "handle_function_call",
    "responses_api_tools",
    "responses_function_call_outputs",
    "run_shell",
    "strict_arguments",
    "truncate_middle",
]
