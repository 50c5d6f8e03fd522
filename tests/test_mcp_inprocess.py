"""The MCP server with the SDK's own in-process client: tools, calls, errors, progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from helpers import call_tool, mcp_read_until
from streamshell import SessionManager
from streamshell.mcp.server import build_server

REFERENCE = json.loads((Path(__file__).parent / "data" / "codex-0.29.0-tools.json").read_text())


MODES = pytest.mark.parametrize("mode", ["legacy", "auto"])
"""Both of the SDK's in-process paths: the JSON-RPC handshake era and the direct modern one.
(A fixture cannot hold the client: anyio needs it entered and exited in the test's own task.)"""


def connect(mode: str) -> Client:
    return Client(build_server(SessionManager), mode=mode)


@MODES
async def test_lists_the_four_tools_with_honest_annotations(mode: str) -> None:
    async with connect(mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert list(tools) == ["exec_command", "write_stdin", "list_sessions", "kill_session"]
    for name in ("exec_command", "write_stdin"):
        reference = next(t for t in REFERENCE if t["name"] == name)
        # The reference's description, then (the extended schema, the default) when a call returns.
        assert (tools[name].description or "").startswith(reference["description"] + "\n")
        for prop, schema in reference["parameters"]["properties"].items():
            assert tools[name].input_schema["properties"][prop] == schema
        assert tools[name].input_schema["required"] == reference["parameters"]["required"]
    exec_hints = tools["exec_command"].annotations
    assert exec_hints is not None and exec_hints.destructive_hint and exec_hints.open_world_hint
    list_hints = tools["list_sessions"].annotations
    assert list_hints is not None and list_hints.read_only_hint and not list_hints.destructive_hint


async def test_reference_schema_and_tool_subset() -> None:
    server = build_server(SessionManager, tools=("exec_command", "write_stdin"), extended=False)
    async with Client(server) as c:
        listed = (await c.list_tools()).tools
        assert [(t.name, t.description, t.input_schema) for t in listed] == [
            (t["name"], t["description"], t["parameters"]) for t in REFERENCE[:2]
        ]
        text, error = await call_tool(c, "list_sessions", {})
        assert (text, error) == ("unsupported call: list_sessions", True)


@MODES
async def test_run_type_interrupt_kill_list(mode: str) -> None:
    async with connect(mode) as client:
        await run_type_interrupt_kill_list(client)


async def run_type_interrupt_kill_list(client: Client) -> None:
    text, error = await call_tool(client, "exec_command", {"cmd": "echo hi", "login": False})
    assert not error and text.endswith("Process exited with code 0\nOutput:\nhi\r\n")

    text, _ = await call_tool(client, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0})
    assert "Process running with session ID 1\n" in text
    echoed = await mcp_read_until(client, 1, "typed", times=2, chars="typed\n")
    assert echoed == "typed\r\ntyped\r\n"

    text, _ = await call_tool(
        client, "write_stdin", {"session_id": 1, "chars": "\u0003", "yield_time_ms": 30_000}
    )
    assert "Process exited with code 130\n" in text

    await call_tool(client, "exec_command", {"cmd": "sleep 600", "login": False, "yield_time_ms": 0})
    listing, error = await call_tool(client, "list_sessions", {})
    [session] = json.loads(listing)
    assert not error
    assert (session["session_id"], session["command"], session["running"], session["exit_code"]) == (
        2,
        "sleep 600",
        True,
        None,
    )
    text, error = await call_tool(client, "kill_session", {"session_id": 2})
    assert not error and "Process exited with code 129\n" in text
    assert json.loads((await call_tool(client, "list_sessions", {}))[0]) == []


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("exec_command", {}, "failed to parse function arguments: missing field `cmd`"),
        (
            "write_stdin",
            {"session_id": "3", "chars": ""},
            'failed to parse function arguments: session_id: invalid type: string "3", expected u32',
        ),
        ("write_stdin", {"session_id": 7, "chars": ""}, "unknown session id 7"),
        (
            "exec_command",
            {"cmd": "ls", "timeout": 1},
            "failed to parse function arguments: unknown field `timeout`, expected one of `cmd`, "
            "`yield_time_ms`, `max_output_tokens`, `shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, "
            "`view`",
        ),
        (
            "exec_command",
            {"cmd": "ls", "shell": "/nonexistent"},
            "failed to create exec command session for session id 0: Unable to spawn /nonexistent because it "
            "doesn't exist on the filesystem (ENOENT: No such file or directory)",
        ),
        (
            "kill_session",
            {"session_id": -1},
            "failed to parse function arguments: session_id: invalid value: integer `-1`, expected u32",
        ),
        (
            "list_sessions",
            {"all": True},
            "failed to parse function arguments: unknown field `all`, expected there are no fields",
        ),
        ("rm_rf", {}, "unsupported call: rm_rf"),
    ],
)
@MODES
async def test_errors_are_tool_results_with_the_exact_text(
    mode: str, name: str, arguments: dict[str, Any], expected: str
) -> None:
    async with connect(mode) as client:
        assert await call_tool(client, name, arguments) == (expected, True)
        text, error = await call_tool(client, "exec_command", {"cmd": "echo still serving", "login": False})
        assert not error and text.endswith("still serving\r\n")


async def test_output_streams_as_progress_while_the_call_waits() -> None:
    # The JSON-RPC path carries the client's progress token (the direct path has none to give).
    async with Client(build_server(SessionManager), mode="legacy") as client:
        updates: list[tuple[float, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append((progress, message))

        text, _ = await call_tool(
            client,
            "exec_command",
            {
                "cmd": "for i in 1 2 3; do echo line$i; sleep 0.2; done",
                "login": False,
                "yield_time_ms": 30_000,
            },
            progress_callback=on_progress,
        )
    assert text.endswith("Output:\nline1\r\nline2\r\nline3\r\n")
    assert "".join(m or "" for _, m in updates) == "line1\r\nline2\r\nline3\r\n"
    assert len(updates) >= 2, "the lines arrive 0.2 s apart: more than one notification"
    progress = [p for p, _ in updates]
    assert progress == sorted(progress) and len(set(progress)) == len(progress)


async def test_errors_stay_tool_results_when_progress_was_asked_for() -> None:
    async with Client(build_server(SessionManager), mode="legacy") as client:
        updates: list[str | None] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            updates.append(message)

        for name, arguments, expected in [
            ("write_stdin", {"session_id": 99, "chars": ""}, "unknown session id 99"),
            (
                "exec_command",
                {"cmd": "true", "shell": "/nonexistent"},
                "failed to create exec command session for session id 0: Unable to spawn /nonexistent "
                "because it doesn't exist on the filesystem (ENOENT: No such file or directory)",
            ),
        ]:
            assert await call_tool(client, name, arguments, progress_callback=on_progress) == (expected, True)
        assert updates == []
