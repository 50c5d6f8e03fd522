"""What ``streamshell agent`` shows: its events, drawn for a terminal or written as JSON lines.

The agent loop reports everything that happens as an :class:`AgentEvent`; a display
turns events into output. :class:`TerminalDisplay` is for a person: each command as
the model asked for it, the command's output live, its exit status, then the final
answer on stdout (everything else goes to stderr, so ``answer=$(streamshell agent ...)``
captures just the answer). :class:`JsonDisplay` writes one JSON object per event on
stdout, for programs.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TextIO, dataclass_transform

from ..tools.names import EXEC_COMMAND_TOOL_NAME, SHELL_TOOL_NAME, WRITE_STDIN_TOOL_NAME


@dataclass_transform(frozen_default=True)
class Event:
    """An agent event: every subclass is a frozen dataclass (made so here, once), and its ``type``
    (in JSON) is the class name in snake_case."""

    type: ClassVar[str]

    def __init_subclass__(cls) -> None:
        cls.type = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
        dataclass(frozen=True)(cls)


class TaskStarted(Event):
    """The loop is about to ask the model for the first time."""

    model: str
    tools: list[str]
    cwd: str
    confinement: str = ""
    """What the commands may do: the sandbox and the limits (``ManagerOptions.confinement``)."""


class ToolCall(Event):
    """The model called a tool; ``arguments`` are as the model sent them."""

    call_id: str
    name: str
    arguments: str


class ToolOutputDelta(Event):
    """Output a command printed while its call was waiting."""

    call_id: str
    text: str


class ToolResult(Event):
    """A call finished; ``output`` is exactly what the model reads.

    ``exit_code`` is set when the process exited, ``session_id`` while it still runs.
    """

    call_id: str
    name: str
    success: bool
    exit_code: int | None
    session_id: int | None
    duration_seconds: float
    output: str


class AgentMessage(Event):
    """Text the model wrote; ``final`` for the answer that ends the task."""

    text: str
    final: bool


class TaskComplete(Event):
    """The model answered without calling a tool: the task is over."""

    last_agent_message: str


class Interrupted(Event):
    """Ctrl-C stopped the loop; ``killed_sessions`` were still running and were killed."""

    killed_sessions: int


class Error(Event):
    """The loop could not go on (the API failed, the configuration is wrong)."""

    message: str


AgentEvent = (
    TaskStarted | ToolCall | ToolOutputDelta | ToolResult | AgentMessage | TaskComplete | Interrupted | Error
)
Display = Callable[[AgentEvent], None]


def event_json(event: AgentEvent) -> dict[str, Any]:
    """The event as a JSON object: its ``type``, then its fields."""
    return {"type": event.type, **dataclasses.asdict(event)}


class JsonDisplay:
    """One JSON object per event, one per line."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, event: AgentEvent) -> None:
        self._out.write(json.dumps(event_json(event), ensure_ascii=False) + "\n")
        self._out.flush()


class TerminalDisplay:
    """For a person at a terminal: progress on ``err``, the final answer on ``out``."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err
        self._line_start = True

    def __call__(self, event: AgentEvent) -> None:
        match event:
            case TaskStarted(model=model, tools=tools, cwd=cwd, confinement=confinement):
                self._line(f"streamshell agent: model {model}, tools {', '.join(tools)}, in {cwd}")
                if confinement:
                    self._line(f"streamshell agent: {confinement}")
            case ToolCall(name=name, arguments=arguments):
                self._line(describe_call(name, arguments))
            case ToolOutputDelta(text=text):
                self._write(text)
            case ToolResult():
                self._line(describe_result(event))
            case AgentMessage(text=text, final=False):
                self._line(text)
            case AgentMessage(text=text, final=True):
                self._out.write(text if text.endswith("\n") else text + "\n")
                self._out.flush()
            case Interrupted(killed_sessions=killed):
                self._line(f"interrupted: stopped the agent and killed {killed} running session(s)")
            case Error(message=message):
                self._line(f"streamshell agent: {message}")
            case TaskComplete():
                pass

    def _write(self, text: str) -> None:
        if text:
            self._err.write(text)
            self._err.flush()
            self._line_start = text.endswith("\n")

    def _line(self, text: str) -> None:
        """``text`` on a line of its own, after whatever output came before."""
        self._write(("" if self._line_start else "\n") + text + "\n")


def describe_call(name: str, arguments: str) -> str:
    """One line saying what a call does: ``$ command``, or what is typed into which session."""
    try:
        args = json.loads(arguments)
    except ValueError:
        args = None
    if not isinstance(args, dict):
        return f"{name} {arguments}"
    if name == EXEC_COMMAND_TOOL_NAME and isinstance(args.get("cmd"), str):
        return f"$ {args['cmd']}"
    if name == SHELL_TOOL_NAME and isinstance(args.get("command"), list):
        return f"$ {shlex.join(str(a) for a in args['command'])}"
    if name == WRITE_STDIN_TOOL_NAME and isinstance(args.get("chars"), str):
        session, chars = args.get("session_id"), args["chars"]
        if not chars:
            return f"(waiting for session {session})"
        return f"> session {session}: {json.dumps(chars, ensure_ascii=False)}"
    return f"{name} {arguments}"


def describe_result(result: ToolResult) -> str:
    """One line with how a call ended: its exit code, the session still running, or the error."""
    took = f"{result.duration_seconds:.2f} s"
    if result.exit_code is not None:
        return f"[exit code {result.exit_code}, {took}]"
    if result.session_id is not None:
        return f"[running as session {result.session_id}, {took}]"
    return f"[error: {result.output}]"
