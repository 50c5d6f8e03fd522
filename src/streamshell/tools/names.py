"""The tools' names, and which of them each front end offers by default.

What the command line checks ``--tools`` against and the MCP server validates before it
serves, without loading the tools themselves (their parameters, schemas and handlers live in
:mod:`.registry`, which declares one tool for each name here): ``streamshell serve`` answers
its first request without them.
"""

from __future__ import annotations

EXEC_COMMAND_TOOL_NAME = "exec_command"
WRITE_STDIN_TOOL_NAME = "write_stdin"
LIST_SESSIONS_TOOL_NAME = "list_sessions"
KILL_SESSION_TOOL_NAME = "kill_session"
SHELL_TOOL_NAME = "shell"

TOOL_NAMES = (
    EXEC_COMMAND_TOOL_NAME,
    WRITE_STDIN_TOOL_NAME,
    LIST_SESSIONS_TOOL_NAME,
    KILL_SESSION_TOOL_NAME,
    SHELL_TOOL_NAME,
)
"""Every tool, in the registry's order: what the dispatcher routes, ``streamshell call`` accepts and MCP
can serve."""

MODEL_TOOLS = (EXEC_COMMAND_TOOL_NAME, WRITE_STDIN_TOOL_NAME)
"""The reference's streamable pair: what the model-API formats advertise."""

MCP_TOOLS = (EXEC_COMMAND_TOOL_NAME, WRITE_STDIN_TOOL_NAME, LIST_SESSIONS_TOOL_NAME, KILL_SESSION_TOOL_NAME)
"""What the MCP server serves by default."""
