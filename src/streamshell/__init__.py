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

import importlib
from typing import TYPE_CHECKING, Any

from . import _moved
from ._version import __version__

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first use
    from ._engine.manager import SessionManager
    from ._engine.options import ManagerOptions
    from ._engine.resource_limits import ResourceLimits
    from ._engine.transcripts import TranscriptStore
    from ._engine.truncation import truncate_middle
    from ._engine.watch import OutputText, Resized, ScreenShot, SessionExit
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
    from .profiles import Profile
    from .results import ExecCommandOutput, Exited, ExitNotice, ExitStatus, Ongoing, SessionInfo
    from .tools.dispatch import handle_function_call
    from .tools.formats import anthropic_tools, chat_completions_tools, responses_api_tools
    from .tools.registry import FunctionCallOutput
    from .tools.shell import ShellOutput, run_shell
    from .tools.toolsconfig import AskForApproval, SandboxMode, SandboxPolicy, ShellToolType, ToolsConfig

_PUBLIC = {
    "SessionManager": "._engine.manager",
    "ManagerOptions": "._engine.options",
    "ResourceLimits": "._engine.resource_limits",
    "TranscriptStore": "._engine.transcripts",
    "truncate_middle": "._engine.truncation",
    **dict.fromkeys(("OutputText", "Resized", "ScreenShot", "SessionExit"), "._engine.watch"),
    **dict.fromkeys(
        (
            "agents_function_tools",
            "anthropic_tool_results",
            "chat_completions_tool_messages",
            "responses_function_call_outputs",
            "strict_arguments",
        ),
        ".adapters",
    ),
    **dict.fromkeys(
        (
            "ClusterError",
            "ExecutionError",
            "InvalidArgumentsError",
            "ManagerClosedError",
            "NoTerminalError",
            "SessionEndedError",
            "SessionLostError",
            "SpawnError",
            "StreamshellError",
            "UnknownSessionError",
            "UnsupportedCallError",
            "WriteError",
        ),
        ".errors",
    ),
    **dict.fromkeys(("ExecCommandParams", "ShellToolCallParams", "WriteStdinParams"), ".params"),
    "Profile": ".profiles",
    **dict.fromkeys(
        ("ExecCommandOutput", "Exited", "ExitNotice", "ExitStatus", "Ongoing", "SessionInfo"), ".results"
    ),
    "handle_function_call": ".tools.dispatch",
    **dict.fromkeys(("anthropic_tools", "chat_completions_tools", "responses_api_tools"), ".tools.formats"),
    "FunctionCallOutput": ".tools.registry",
    **dict.fromkeys(("ShellOutput", "run_shell"), ".tools.shell"),
    **dict.fromkeys(
        ("AskForApproval", "SandboxMode", "SandboxPolicy", "ShellToolType", "ToolsConfig"),
        ".tools.toolsconfig",
    ),
}
"""Where each public name lives. The facade imports nothing of its own until a name is used, so
``import streamshell`` (and the ``streamshell`` command, whose package this is) starts at once."""

__all__ = sorted([*_PUBLIC, "__version__"])

_moved.install()


def __dir__() -> list[str]:
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    public = _PUBLIC.get(name)
    if public is None:
        return _moved.moved_name(__name__, name)
    value = getattr(importlib.import_module(public, __name__), name)
    globals()[name] = value  # later lookups do not come back here
    return value
