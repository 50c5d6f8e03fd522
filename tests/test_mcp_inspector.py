"""A third-party MCP client: the MCP Inspector CLI from npm, run as the README's Clients section says.

Over stdio, Inspector 0.15.0 (the newest that runs on Node 20); over HTTP with the bearer token,
Inspector 2.12.0 (``--header``; Node 22 from npm), whose ``--strict`` also checks that every tool
schema is portable across clients.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

import npm_cache
from readme_clients import client_config
from test_mcp_http import start_server, stop

NPX = "npx -y @modelcontextprotocol/inspector@{version} "


@pytest.fixture(scope="module")
def inspector() -> Path:
    npm_cache.installed(npm_cache.INSPECTOR_STDIO)
    return npm_cache.INSPECTOR_STDIO.bin("mcp-inspector")


def readme_command(name: str, binary: Path, version: str, **replacements: str) -> list[str]:
    """The README's command line for ``name``, with the cached Inspector in place of ``npx``."""
    line = client_config(name, **replacements).strip()
    prefix = NPX.format(version=version)
    assert line.startswith(prefix), line
    return [str(binary), *shlex.split(line.removeprefix(prefix))]


def inspect(command: list[str], *extra: str, env: dict[str, str] | None = None) -> dict[str, object]:
    run = subprocess.run(
        [*command, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    result: dict[str, object] = json.loads(run.stdout)
    return result


def stdio_call(inspector: Path, *args: str) -> dict[str, object]:
    """The README's stdio command, with ``--method tools/list`` replaced by ``args``."""
    command = readme_command("inspector-stdio", inspector, "0.15.0")
    assert command[-2:] == ["--method", "tools/list"]
    return inspect(command[:-2], *args)


def test_inspector_lists_the_tools(inspector: Path) -> None:
    listed = inspect(readme_command("inspector-stdio", inspector, "0.15.0"))
    tools = listed["tools"]
    assert isinstance(tools, list)
    assert [t["name"] for t in tools] == ["exec_command", "write_stdin", "list_sessions", "kill_session"]
    assert tools[0]["inputSchema"]["required"] == ["cmd"]
    assert tools[0]["annotations"]["destructiveHint"] is True


def test_inspector_calls_exec_command(inspector: Path) -> None:
    result = stdio_call(
        inspector,
        "--method",
        "tools/call",
        "--tool-name",
        "exec_command",
        "--tool-arg",
        "cmd=echo from-inspector",
        "--tool-arg",
        "login=false",
    )
    assert result["isError"] is False
    [content] = result["content"]  # type: ignore[misc]
    assert content["text"].startswith("Wall time: ")
    assert content["text"].endswith("Process exited with code 0\nOutput:\nfrom-inspector\r\n")


def test_inspector_sees_errors_as_error_results(inspector: Path) -> None:
    result = stdio_call(
        inspector,
        "--method",
        "tools/call",
        "--tool-name",
        "write_stdin",
        "--tool-arg",
        "session_id=99",
        "--tool-arg",
        "chars=x",
    )
    assert result == {"content": [{"type": "text", "text": "unknown session id 99"}], "isError": True}


def test_inspector_2_over_http_with_the_token_and_portable_schemas() -> None:
    npm_cache.installed(npm_cache.INSPECTOR_HTTP)
    server = start_server()
    try:
        command = readme_command(
            "inspector-http",
            npm_cache.INSPECTOR_HTTP.bin("mcp-inspector"),
            "2.12.0",
            token=server.token,
        )
        command = [server.url if arg == "http://127.0.0.1:8765/mcp" else arg for arg in command]
        env = {**os.environ, **npm_cache.INSPECTOR_HTTP.env}
        listed = inspect(command, env=env)  # --strict: exit 6 on any error-severity portability problem
    finally:
        stop(server)
    assert [t["name"] for t in listed["tools"]] == [  # type: ignore[union-attr]
        "exec_command",
        "write_stdin",
        "list_sessions",
        "kill_session",
    ]
    env_schema = listed["tools"][0]["inputSchema"]["properties"]["env"]  # type: ignore[index]
    assert env_schema["type"] == "array"
