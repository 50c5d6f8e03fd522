"""Every tool streamshell serves, each declared once: parameters, handler, description, hints (its
name comes from :mod:`.names`).

Everything about a tool derives from its :class:`Tool` here and its parameter dataclass in
:mod:`streamshell.params`: the schemas and API shapes (:mod:`.formats`), the parser with
serde_json's texts, and the routing (:func:`.dispatch.handle_function_call`), which
serves the library, ``streamshell call``, the MCP server, the adapters and the agent alike.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ..errors import StreamshellError
from ..params import (
    ExecCommandParams,
    Group,
    KillSessionParams,
    ListSessionsParams,
    Params,
    ShellToolCallParams,
    WriteStdinParams,
)
from ..profiles import Profile
from ..results import ExecCommandOutput, Exited, ExitNotice, ExitStatus, Ongoing, SessionInfo
from .backend import OutputCallback, SessionBackend
from .names import (
    EXEC_COMMAND_TOOL_NAME,
    KILL_SESSION_TOOL_NAME,
    LIST_SESSIONS_TOOL_NAME,
    SHELL_TOOL_NAME,
    TOOL_NAMES,
    WRITE_STDIN_TOOL_NAME,
)
from .schema import JsonObject, parameters_schema
from .shell import run_shell

P = TypeVar("P", bound=Params)

Arguments = str | Mapping[str, Any] | None
"""A call's arguments: the JSON string OpenAI's APIs send, or an object already parsed (Anthropic, MCP)."""


@dataclass(frozen=True)
class FunctionCallOutput:
    """The reply to one tool call: ``content`` is what the model reads.

    ``success`` is True exactly when ``content`` is a successful result (for ``shell``:
    when the command exited with code 0, as the reference sets it). ``error`` is True when
    the call failed before running anything and ``content`` is the error's text (MCP's
    ``isError``). ``exit_status`` says how the call left its process, and ``session_id``
    which session it addressed, for displays and logs; both None when nothing ran.
    ``exit_notices``: the other sessions' exits that ``content`` tells of.
    """

    content: str
    success: bool
    exit_status: ExitStatus | None = None
    error: bool = False
    session_id: int | None = None
    note: str | None = field(default=None, compare=False)
    """A few words for the log line when there is no exit status to tell (``3 sessions``)."""
    exit_notices: tuple[ExitNotice, ...] = ()

    @classmethod
    def of_output(cls, output: ExecCommandOutput) -> FunctionCallOutput:
        """An exec_command-style result: the reference's text."""
        return cls(
            output.to_text_output(),
            True,
            output.exit_status,
            session_id=output.session_id,
            exit_notices=output.exit_notices,
        )

    @classmethod
    def failure(cls, text: str) -> FunctionCallOutput:
        return cls(text, False, error=True)

    def summary(self) -> str:
        """A few words for a log line: ``session=3 exited=0``, ``session=3 running``, ``error``."""
        if self.error:
            return "error"
        session = "" if self.session_id is None else f"session={self.session_id} "
        match self.exit_status:
            case Exited(code=code):
                return f"{session}exited={code}"
            case Ongoing(session_id=session_id):
                return f"session={session_id} running"
        return self.note or "ok"


Handler = Callable[[SessionBackend, P, OutputCallback | None], Awaitable[FunctionCallOutput]]


@dataclass(frozen=True)
class Effects:
    """What a client may assume about what a tool does (MCP's annotation hints); tools that act
    alike share one."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


RUNS_COMMANDS = Effects(read_only=False, destructive=True, idempotent=False, open_world=True)
"""Runs a command or types into one: anything may happen, anywhere."""

READS_SESSIONS = Effects(read_only=True, destructive=False, idempotent=True, open_world=False)
"""Only looks at the sessions."""

ENDS_SESSIONS = Effects(read_only=False, destructive=True, idempotent=True, open_world=False)
"""Kills a session; killing it again changes nothing."""


@dataclass(frozen=True)
class Tool(Generic[P]):
    """One tool: everything else about it is derived from this declaration."""

    name: str
    description: str
    params: type[P]
    handler: Handler[P]
    title: str
    """The tool's human-readable name (MCP's ``title`` annotation)."""
    effects: Effects
    unified_description: str | None = None
    """Current Codex's description (the unified profile); None: the same as ``description``."""
    extended_note: str = ""
    """Appended to the reference profile's description in the extended schemas (the reference
    schema's text stays exact)."""

    def describe(self, profile: Profile = Profile.REFERENCE, *, extended: bool = False) -> str:
        """The tool's description as ``profile`` gives it; with ``extended`` (reference profile),
        what streamshell adds to it."""
        if profile is Profile.UNIFIED and self.unified_description is not None:
            return self.unified_description
        if extended and self.extended_note:
            return f"{self.description}\n{self.extended_note}"
        return self.description

    def annotations(self) -> JsonObject:
        """The MCP annotations: the title, and each effect as its hint (``read_only`` is
        ``readOnlyHint``)."""
        hints = {_camel(f.name) + "Hint": getattr(self.effects, f.name) for f in dataclasses.fields(Effects)}
        return {"title": self.title, **hints}

    def parameters(
        self,
        *,
        extended: bool = False,
        strict: bool = False,
        escalation: bool = False,
        profile: Profile = Profile.REFERENCE,
    ) -> JsonObject:
        """The JSON schema of the arguments: the reference's; with ``extended``, streamshell's extra
        parameters too; with ``escalation``, the shell tool's approval fields; ``strict`` for
        OpenAI's strict mode; the unified profile's (for current Codex's own tools, ``extended`` and
        ``escalation`` then do not apply)."""
        groups = {Group.REFERENCE}
        if extended:
            groups.add(Group.EXTENDED)
        if escalation:
            groups.add(Group.ESCALATION)
        return parameters_schema(self.params, groups=groups, strict=strict, profile=profile)

    def parse(self, arguments: Arguments, profile: Profile = Profile.REFERENCE) -> P:
        """The call's arguments as parameters (``profile``'s types and defaults): a JSON string with
        serde_json's messages and positions, a mapping by the same rules; raises InvalidArgumentsError."""
        if isinstance(arguments, str):
            return self.params.from_json(arguments, profile)
        return self.params.from_arguments(arguments, profile)

    async def call(
        self, backend: SessionBackend, arguments: Arguments, on_output: OutputCallback | None
    ) -> FunctionCallOutput:
        """Parse ``arguments`` as the backend's profile has them and run the tool; errors are raised,
        for the dispatcher to render, in this tool's words (a text that names a tool names this one)."""
        try:
            return await self.handler(backend, self.parse(arguments, backend.profile), on_output)
        except StreamshellError as e:
            raise e.for_tool(self.name) from None


# ----- handlers ------------------------------------------------------------------------------


async def _exec_command(
    backend: SessionBackend, params: ExecCommandParams, on_output: OutputCallback | None
) -> FunctionCallOutput:
    return FunctionCallOutput.of_output(await backend.exec_command(params, on_output=on_output))


async def _write_stdin(
    backend: SessionBackend, params: WriteStdinParams, on_output: OutputCallback | None
) -> FunctionCallOutput:
    return FunctionCallOutput.of_output(await backend.write_stdin(params, on_output=on_output))


async def _kill_session(
    backend: SessionBackend, params: KillSessionParams, on_output: OutputCallback | None
) -> FunctionCallOutput:
    out = await backend.kill_session(params.session_id, max_output_tokens=params.max_output_tokens)
    return FunctionCallOutput.of_output(out)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_json(info: SessionInfo) -> JsonObject:
    """A session as ``list_sessions`` shows it to the model; ``node`` (on a cluster), ``lost``
    (its node left the cluster) and ``cast`` (its recording) only where they apply."""
    shown: JsonObject = {
        "session_id": info.session_id,
        "command": info.command,
        "pid": info.pid,
        "tty": info.tty,
        "running": info.running,
        "exit_code": info.exit_code,
        "started_at": _iso(info.started_at),
        "last_used_at": _iso(info.last_used_at),
        "waiting_for_input": info.waiting_for_input,
        "unread_bytes": info.unread_bytes,
    }
    if info.node is not None:
        shown["node"] = info.node
    if info.lost:
        shown["lost"] = True
    if info.cast is not None:
        shown["cast"] = info.cast
    return shown


async def _list_sessions(
    backend: SessionBackend, params: ListSessionsParams, on_output: OutputCallback | None
) -> FunctionCallOutput:
    listed = backend.list_sessions()
    sessions = await listed if inspect.isawaitable(listed) else listed
    text = json.dumps([session_json(s) for s in sessions], indent=1)
    return FunctionCallOutput(text, True, note=f"{len(sessions)} sessions")


async def _shell(
    backend: SessionBackend, params: ShellToolCallParams, on_output: OutputCallback | None
) -> FunctionCallOutput:
    out = await run_shell(backend, params, on_output=on_output)
    return FunctionCallOutput(out.to_text_output(), out.exit_code == 0, Exited(out.exit_code, out.signal))


# ----- the tools -----------------------------------------------------------------------------

_RETURNS = (
    "The call returns as soon as the command exits, waits for input (a prompt, a REPL, a pager), or its "
    "output matches wait_for; else after yield_time_ms, with the session ID to continue."
)

EXEC_COMMAND = Tool(
    EXEC_COMMAND_TOOL_NAME,
    "Execute shell commands on the local machine with streaming output.",
    ExecCommandParams,
    _exec_command,
    "Run a shell command",
    RUNS_COMMANDS,
    unified_description="Runs a command in a PTY, returning output or a session ID for ongoing interaction.",
    extended_note=_RETURNS,
)

WRITE_STDIN = Tool(
    WRITE_STDIN_TOOL_NAME,
    "Write characters to an exec session's stdin. "
    "Returns all stdout+stderr received within yield_time_ms.\n"
    "Can write control characters (\\u0003 for Ctrl-C), or an empty string to just poll stdout+stderr.",
    WriteStdinParams,
    _write_stdin,
    "Type into a running command",
    RUNS_COMMANDS,
    unified_description="Writes characters to an existing unified exec session and returns recent output.",
    extended_note=_RETURNS,
)

LIST_SESSIONS = Tool(
    LIST_SESSIONS_TOOL_NAME,
    "List the open exec_command sessions: id, command, pid, whether it runs (or its exit code), "
    "when it started and when it was last used, whether it waits for input, and how many bytes of "
    "output it printed that no call has returned yet.",
    ListSessionsParams,
    _list_sessions,
    "List shell sessions",
    READS_SESSIONS,
)

KILL_SESSION = Tool(
    KILL_SESSION_TOOL_NAME,
    "Kill an exec_command session and every process it started (SIGHUP and SIGTERM, then SIGKILL). "
    "Returns its last output and exit code.",
    KillSessionParams,
    _kill_session,
    "Kill a shell session",
    ENDS_SESSIONS,
)

SHELL = Tool(
    SHELL_TOOL_NAME,
    "Runs a shell command and returns its output",
    ShellToolCallParams,
    _shell,
    "Run a command to completion",
    RUNS_COMMANDS,
)

TOOLS: Mapping[str, Tool[Any]] = {
    t.name: t for t in (EXEC_COMMAND, WRITE_STDIN, LIST_SESSIONS, KILL_SESSION, SHELL)
}
"""Every tool, by name (in :data:`.names.TOOL_NAMES`' order): what the dispatcher routes, ``streamshell
call`` accepts and MCP can serve."""

if tuple(TOOLS) != TOOL_NAMES:  # pragma: no cover - a name without its tool, or a tool without its name
    raise ImportError(f"the registry declares {tuple(TOOLS)}, the tools' names are {TOOL_NAMES}")
