"""``streamshell agent "task"``: the reference's agent loop, on the OpenAI Responses API.

Each turn streams one response with the official ``openai`` SDK and sends the whole
conversation as ``input`` (the server keeps no state: what Codex does, and what the
reference harness's fake server expects). Every ``function_call`` item goes through
:func:`handle_function_call`, whose text comes back as a ``function_call_output`` item;
the loop ends when the model answers without calling a tool. The tools advertised follow
:class:`ToolsConfig`: exec_command + write_stdin with ``experimental_use_exec_command_tool``,
else the one-shot ``shell``. As in Codex, all three are dispatched whichever were
advertised. Commands run without approval or sandbox, like ``codex exec
--dangerously-bypass-approvals-and-sandbox``.

This module imports the ``openai`` SDK: the CLI imports it only to run an agent.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any, cast

from openai import AsyncOpenAI, OpenAIError
from openai.types.responses import ResponseInputParam, ToolParam

from .._engine.manager import SessionManager
from ..results import Exited, Ongoing
from ..tools.backend import SessionBackend
from ..tools.dispatch import handle_function_call
from ..tools.formats import responses_api_tools
from ..tools.names import EXEC_COMMAND_TOOL_NAME, SHELL_TOOL_NAME, WRITE_STDIN_TOOL_NAME
from ..tools.schema import JsonObject
from ..tools.toolsconfig import ShellToolType, ToolsConfig
from .config import Config, ConfigError
from .display import (
    AgentMessage,
    Display,
    Error,
    Interrupted,
    TaskComplete,
    TaskStarted,
    ToolCall,
    ToolOutputDelta,
    ToolResult,
)

STREAMABLE_INSTRUCTIONS = """\
You are a coding agent working in a terminal on the user's machine. Run shell commands with \
exec_command: it returns the command's output and exit code or, when the command still runs after \
yield_time_ms, a session ID. Use write_stdin with that session ID to type into the program \
(\\u0003 is Ctrl-C, \\u0004 ends its input) or, with empty chars, to wait for more output. \
Stop programs you no longer need. When the task is done, reply with a short summary of what you \
did and found."""

SHELL_INSTRUCTIONS = """\
You are a coding agent working in a terminal on the user's machine. Run commands with the shell \
tool: `command` is an argv list (use ["bash", "-lc", "..."] for shell syntax); it runs to \
completion, or is killed after timeout_ms (10 seconds by default), and returns its output and \
exit code. When the task is done, reply with a short summary of what you did and found."""


class ModelError(Exception):
    """The model's response stream reported a failure."""


class Agent:
    """One task's loop: ask the model, run its calls, send back their output, until it answers."""

    def __init__(
        self,
        client: AsyncOpenAI,
        manager: SessionBackend,
        display: Display,
        *,
        model: str,
        instructions: str,
        tools: list[JsonObject],
    ) -> None:
        self._client = client
        self._manager = manager
        self._display = display
        self._model = model
        self._instructions = instructions
        self._tools = tools
        self._open: set[int] = set()
        self._starting = False

    @property
    def open_sessions(self) -> int:
        """Sessions this loop started and has not seen end, counting one a call is starting."""
        return len(self._open) + self._starting

    async def run(self, task: str) -> str:
        """Work on ``task`` until the model answers without a tool call; return that answer."""
        conversation: list[JsonObject] = [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": task}]}
        ]
        while True:
            items = await self._turn(conversation)
            conversation.extend(items)
            calls = [item for item in items if item.get("type") == "function_call"]
            messages = [text for item in items if (text := _message_text(item))]
            for text in messages:
                self._display(AgentMessage(text, final=not calls))
            if not calls:
                answer = "\n".join(messages)
                self._display(TaskComplete(answer))
                return answer
            for call in calls:
                conversation.append(await self._call(call))

    async def _turn(self, conversation: list[JsonObject]) -> list[JsonObject]:
        """Stream one response; return its output items (as plain dicts) in order."""
        stream = await self._client.responses.create(
            model=self._model,
            instructions=self._instructions,
            input=cast("ResponseInputParam", conversation),  # plain dicts: the API's own JSON
            tools=cast("list[ToolParam]", self._tools),
            tool_choice="auto",
            parallel_tool_calls=False,
            stream=True,
        )
        items: list[JsonObject] = []
        async with stream:
            async for event in stream:
                if event.type == "response.output_item.done":
                    items.append(event.item.to_dict())
                elif event.type == "response.failed":
                    error = event.response.error
                    raise ModelError(error.message if error else "the response failed")
                elif event.type == "error":
                    raise ModelError(event.message)
        return items

    async def _call(self, item: JsonObject) -> JsonObject:
        """Run one function call, showing it; return its ``function_call_output`` item."""
        call_id, name, arguments = item["call_id"], item["name"], item["arguments"]
        self._display(ToolCall(call_id, name, arguments))
        started = time.monotonic()
        # Cancelled while it waits, a call that starts a session kills it (its id was never
        # returned): count it among the sessions an interruption stops.
        self._starting = name in (EXEC_COMMAND_TOOL_NAME, SHELL_TOOL_NAME)
        result = await handle_function_call(
            self._manager,
            name,
            arguments,
            on_output=lambda text: self._display(ToolOutputDelta(call_id, text)),
        )
        self._starting = False
        status = result.exit_status
        if isinstance(status, Ongoing):
            self._open.add(status.session_id)
        elif name == WRITE_STDIN_TOOL_NAME:  # it exited, or is gone
            self._open.discard(_session_of(arguments))
        self._display(
            ToolResult(
                call_id,
                name,
                result.success,
                exit_code=status.code if isinstance(status, Exited) else None,
                session_id=status.session_id if isinstance(status, Ongoing) else None,
                duration_seconds=round(time.monotonic() - started, 3),
                output=result.content,
            )
        )
        return {"type": "function_call_output", "call_id": call_id, "output": result.content}


def _session_of(arguments: str) -> int | None:
    """The session id a write_stdin call addressed, if its arguments say."""
    try:
        session_id = json.loads(arguments).get("session_id")
    except (ValueError, AttributeError):
        return None
    return session_id if isinstance(session_id, int) else None


def _message_text(item: JsonObject) -> str:
    """The text of an assistant ``message`` item (its output_text and refusal parts); '' otherwise."""
    if item.get("type") != "message":
        return ""
    parts: list[Any] = item.get("content") or []
    return "".join(part.get("text") or part.get("refusal") or "" for part in parts)


def default_instructions(tools_config: ToolsConfig, cwd: str) -> str:
    """The built-in instructions for the advertised tools, and where commands run."""
    streamable = tools_config.shell_type is ShellToolType.STREAMABLE_SHELL
    base = STREAMABLE_INSTRUCTIONS if streamable else SHELL_INSTRUCTIONS
    return f"{base}\nCommands run in {cwd}."


async def run_agent(task: str, config: Config, display: Display) -> bool:
    """Run ``task`` with ``config``, reporting to ``display``; False when the model API failed.

    Ctrl-C (the task being cancelled) kills every session the loop started, then
    propagates. Raises :class:`~streamshell.config.ConfigError` for an unreadable
    instructions file.
    """
    options = config.manager_options()
    tools_config = ToolsConfig.new(
        sandbox_policy=options.policy, use_exec_command_tool=config.experimental_use_exec_command_tool
    )
    tools = tools_config.openai_tools()
    if tools_config.shell_type is ShellToolType.STREAMABLE_SHELL:  # the profile's definitions of the pair
        tools = responses_api_tools(profile=options.profile)
    cwd = options.workspace()
    instructions = config.instructions(default_instructions(tools_config, cwd))
    manager = _session_manager(config, cwd)
    try:
        try:
            client = AsyncOpenAI(base_url=config.base_url)
        except OpenAIError as e:
            display(Error(str(e)))
            return False
        agent = Agent(client, manager, display, model=config.model, instructions=instructions, tools=tools)
        names = [tool.get("name") or tool["type"] for tool in tools]
        display(TaskStarted(config.model, names, cwd, options.confinement()))
        try:
            await agent.run(task)
        except asyncio.CancelledError:
            display(Interrupted(agent.open_sessions))
            raise
        except (OpenAIError, ModelError) as e:
            display(Error(f"the model API failed: {e}"))
            return False
        finally:
            await client.close()
    finally:
        await manager.aclose()
    return True


def _session_manager(config: Config, cwd: str) -> SessionBackend:
    """Where the commands run: here, in ``cwd``; or on the Ray cluster at ``ray_address``, in the
    configured ``cwd`` if any (else, on each node, this directory when the node has it, or home).

    Raises :class:`ConfigError` when the cluster cannot be used (no Ray, nobody at the address).
    """
    options = config.manager_options()
    ray_address = config.ray_address
    if ray_address is None:
        return SessionManager(replace(options, cwd=cwd))
    try:
        from ..cluster.manager import RaySessionManager
    except ImportError as e:
        raise ConfigError(f"ray_address needs Ray ({e}): pip install 'streamshell[ray]'") from None
    try:
        return RaySessionManager(options, address=ray_address)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ConfigError(f"ray_address {ray_address}: cannot connect to the Ray cluster: {e}") from None
