"""Every tool's schema, in every profile and schema variant, against what its parser accepts: a model
that follows the advertised schema can call every tool, and nothing the call requires is hidden."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from mcp import Client

from helpers import call_tool
from streamshell import Profile, SessionManager
from streamshell.mcp.server import build_server
from streamshell.params import declared
from streamshell.tools.formats import mcp_tools
from streamshell.tools.registry import TOOLS

VARIANTS = [
    {"extended": extended, "strict": strict, "escalation": escalation}
    for extended, strict, escalation in itertools.product((False, True), repeat=3)
]
SAMPLES: dict[str, Any] = {"string": "x", "number": 1, "boolean": True, "array": ["NAME=value"]}
"""A value of each JSON type a schema advertises (a list of "NAME=value" strings is also an argv)."""


def sample(prop: dict[str, Any]) -> Any:
    """A value the property's advertised schema allows."""
    if "enum" in prop:
        return next(value for value in prop["enum"] if value is not None)
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return SAMPLES[next(kind for kind in kinds if kind != "null")]


def every_advertised_argument(schema: dict[str, Any]) -> dict[str, Any]:
    return {name: sample(prop) for name, prop in schema["properties"].items()}


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("name", list(TOOLS))
def test_every_required_field_is_advertised_and_every_advertised_field_is_accepted(
    name: str, profile: Profile
) -> None:
    tool = TOOLS[name]
    required = {d.field.name for d in declared(tool.params, profile) if d.field.required}
    for variant in VARIANTS:
        schema = tool.parameters(profile=profile, **variant)
        where = f"{name} ({profile.value}, {variant})"
        assert schema["type"] == "object" and schema["additionalProperties"] is False, where
        assert required <= set(schema["properties"]), f"{where}: a required field is not advertised"
        assert required <= set(schema["required"]), f"{where}: a required field is advertised as optional"
        assert set(schema["required"]) <= set(schema["properties"]), where
        arguments = every_advertised_argument(schema)
        # Accepted both as the JSON text OpenAI's APIs send and as the object MCP clients send.
        tool.parse(json.dumps(arguments), profile)
        tool.parse(arguments, profile)


@pytest.mark.parametrize("profile", list(Profile))
async def test_the_mcp_server_advertises_every_tool_with_its_parameters(profile: Profile) -> None:
    for extended in (False, True):
        server = build_server(
            lambda: SessionManager(profile=profile), tools=tuple(TOOLS), extended=extended, profile=profile
        )
        async with Client(server) as client:
            listed = {t.name: t.input_schema for t in (await client.list_tools()).tools}
        assert listed == {
            t["name"]: t["inputSchema"] for t in mcp_tools(tuple(TOOLS), extended=extended, profile=profile)
        }
        assert set(listed["kill_session"]["properties"]) == {"session_id", "max_output_tokens"}
        assert listed["kill_session"]["required"] == ["session_id"]
        assert listed["list_sessions"] == {
            "type": "object",
            "properties": {},
            "required": [],
            "additionalProperties": False,
        }
        assert listed["shell"]["required"] == ["command"]
        assert {"command", "workdir", "timeout_ms"} <= set(listed["shell"]["properties"])


async def test_unified_kill_session_list_sessions_and_shell_by_their_advertised_schemas() -> None:
    """Called with exactly what the unified profile advertises, over MCP; errors name the tool called."""
    server = build_server(
        lambda: SessionManager(profile="unified"), tools=tuple(TOOLS), profile=Profile.UNIFIED
    )
    async with Client(server) as client:
        text, error = await call_tool(
            client, "exec_command", {"cmd": "cat", "tty": True, "yield_time_ms": 250}
        )
        assert not error and "Process running with session ID " in text
        sid = int(text.split("Process running with session ID ")[1].split("\n")[0])
        listed, error = await call_tool(client, "list_sessions", {})
        assert not error and [s["session_id"] for s in json.loads(listed)] == [sid]
        text, error = await call_tool(client, "shell", {"command": ["echo", "hi"], "timeout_ms": 10_000})
        assert (json.loads(text)["output"], error) == ("hi\n", False)
        text, error = await call_tool(client, "kill_session", {"session_id": sid, "max_output_tokens": 100})
        assert not error and "Process exited with code" in text
        assert await call_tool(client, "kill_session", {"session_id": sid}) == (
            f"kill_session failed: Unknown process id {sid}",
            True,
        )
        assert await call_tool(client, "write_stdin", {"session_id": sid, "chars": ""}) == (
            f"write_stdin failed: Unknown process id {sid}",
            True,
        )
        listed, _ = await call_tool(client, "list_sessions", {})
        assert json.loads(listed) == []


async def test_reference_kill_session_errors_are_unchanged() -> None:
    async with SessionManager() as m:
        server = build_server(lambda: m, tools=tuple(TOOLS))
        async with Client(server) as client:
            text, _ = await call_tool(client, "exec_command", {"cmd": "cat", "yield_time_ms": 0})
            await call_tool(client, "kill_session", {"session_id": 0})
            text, error = await call_tool(client, "kill_session", {"session_id": 0})
            assert error and text.startswith("session id 0 was killed (exit code ")
            assert await call_tool(client, "kill_session", {"session_id": 7}) == (
                "unknown session id 7",
                True,
            )
