"""streamshell: long-running, interactive shell sessions for LLM agents.

The two tools of OpenAI Codex PR #2574, ``exec_command`` and ``write_stdin``,
as an asyncio library: real PTYs, output kept between calls, exits reported,
process groups owned and killed.
"""

__version__ = "0.1.0"

from .buffer import Captured, OutputBuffer
from .dispatch import FunctionCallOutput, handle_function_call
from .errors import (
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
from .params import ExecCommandParams, WriteStdinParams
from .tools import EXEC_COMMAND_TOOL_NAME, WRITE_STDIN_TOOL_NAME, responses_api_tools
from .truncation import approx_token_count, truncate_middle

__all__ = [
    "EXEC_COMMAND_TOOL_NAME",
    "WRITE_STDIN_TOOL_NAME",
    "Captured",
    "ExecCommandOutput",
    "ExecCommandParams",
    "ExitStatus",
    "Exited",
    "FunctionCallOutput",
    "InvalidArgumentsError",
    "ManagerClosedError",
    "NoTerminalError",
    "Ongoing",
    "OutputBuffer",
    "SessionEndedError",
    "SessionInfo",
    "SessionManager",
    "SpawnError",
    "StreamshellError",
    "UnknownSessionError",
    "UnsupportedCallError",
    "WriteError",
    "WriteStdinParams",
    "__version__",
    "approx_token_count",
    "handle_function_call",
    "responses_api_tools",
    "truncate_middle",
]
