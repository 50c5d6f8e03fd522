"""Real Codex releases as MCP clients of `streamshell serve`, configured with the README's blocks.

Codex 0.29.0 (the reference) and 0.171.0 (current, recorded in tests/data) each run `codex exec`
against the scripted fake Responses API; the fake model calls streamshell's tools through Codex,
and the test reads exactly what Codex sent back to the model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import npm_cache
from codex_harness import CodexRun, run_codex
from readme_clients import client_config

# One worker runs the clients and the packaging test one after another: a client's server must start
# within the client's timeout (Codex 0.29: 10 s), which the packaging test's pip installs can starve.
pytestmark = pytest.mark.xdist_group("clients")

PYTHON = "PYTHON_BASIC_REPL=1 python3 -i -q"


def texts(output: Any) -> str:
    """The text of an MCP tool result as Codex passed it on (a JSON string of the content list in
    0.29; a list of input_text items in current Codex, after a line of its own)."""
    if isinstance(output, str):
        output = json.loads(output)
    return "\n".join(item["text"] for item in output)


def normalise(text: str) -> str:
    text = re.sub(r"Wall time: \d+\.\d+ seconds", "Wall time: <t> seconds", text)
    return re.sub(r"Chunk ID: [0-9a-f]{6}", "Chunk ID: <c>", text)


@pytest.fixture(scope="module")
def codex_029() -> Path:
    return npm_cache.installed(npm_cache.CODEX_REFERENCE) / "package/bin/codex-x86_64-unknown-linux-musl"


@pytest.fixture(scope="module")
def codex_latest() -> Path:
    return npm_cache.installed(npm_cache.CODEX_LATEST) / "node_modules/.bin/codex"


def test_codex_029_gets_every_tool_and_exact_results(codex_029: Path, tmp_path: Path) -> None:
    script = [
        {
            "name": "streamshell__exec_command",
            "arguments": {"cmd": PYTHON, "login": False, "yield_time_ms": 5000},
        },
        {
            "name": "streamshell__write_stdin",
            "arguments": {"session_id": 0, "chars": "print(6*7)\n", "yield_time_ms": 3000},
        },
        {
            "name": "streamshell__write_stdin",
            "arguments": {"session_id": 0, "chars": "exit()\n", "yield_time_ms": 10000},
        },
        {
            "name": "streamshell__exec_command",
            "arguments": {"cmd": "echo $A", "env": ["A=from-env"], "login": False},
        },
        {"name": "streamshell__write_stdin", "arguments": {"session_id": 99, "chars": ""}},
    ]
    run = run_codex(codex_029, script, tmp_path, extra_config=client_config("codex-0.29"))
    assert run.returncode == 0, run.stderr
    names = [tool.get("name") for tool in run.tools()]
    # Codex 0.29 leaves out a tool whose schema it cannot convert: every one must be there, first turn.
    for tool in ("exec_command", "write_stdin", "list_sessions", "kill_session"):
        assert f"streamshell__{tool}" in names, (names, run.stderr)
    assert "Failed to convert" not in run.stderr
    assert [normalise(texts(o)) for o in run.outputs] == [
        "Wall time: <t> seconds\nProcess running with session ID 0\nOutput:\n>>> ",
        "Wall time: <t> seconds\nProcess running with session ID 0\nOutput:\nprint(6*7)\r\n42\r\n>>> ",
        "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\nexit()\r\n",
        "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\nfrom-env\r\n",
        "unknown session id 99",
    ]


def _namespace(run: CodexRun) -> dict[str, Any]:
    [namespace] = [tool for tool in run.tools() if tool.get("name") == "mcp__streamshell"]
    return namespace


def test_current_codex_gets_the_unified_tools_on_its_first_turn(codex_latest: Path, tmp_path: Path) -> None:
    unified = "Chunk ID: <c>\nWall time: <t> seconds\n"
    script: list[dict[str, Any]] = [
        {
            "name": "exec_command",
            "namespace": "mcp__streamshell",
            "arguments": {"cmd": "echo hi; echo err >&2"},
        },
        {
            "name": "exec_command",
            "namespace": "mcp__streamshell",
            "arguments": {"cmd": PYTHON, "tty": True, "yield_time_ms": 5000},
        },
        {
            "name": "write_stdin",
            "namespace": "mcp__streamshell",
            "arguments": {"session_id": "$SESSION:1", "chars": "print(6*7)\n", "yield_time_ms": 3000},
        },
        {
            "name": "write_stdin",
            "namespace": "mcp__streamshell",
            "arguments": {"session_id": "$SESSION:1", "chars": "exit()\n", "yield_time_ms": 10000},
        },
        {"name": "write_stdin", "namespace": "mcp__streamshell", "arguments": {"session_id": 99}},
    ]
    # The README's block, and a startup timeout for a loaded machine (Codex's default is 10 s).
    config = client_config("codex") + "startup_timeout_sec = 120\n"
    run = run_codex(codex_latest, script, tmp_path, extra_config=config)
    assert run.returncode == 0, run.stderr
    # `required = true`: Codex waited for the server, so the very first request has its tools.
    tools = {tool["name"]: tool for tool in _namespace(run)["tools"]}
    assert sorted(tools) == ["exec_command", "kill_session", "list_sessions", "write_stdin"]
    recorded = json.loads((Path(__file__).parent / "data" / "codex-0.171.0-tools.json").read_text())
    for builtin in recorded:  # --profile unified: Codex's own definitions, byte for byte
        assert tools[builtin["name"]]["description"] == builtin["description"]
        assert tools[builtin["name"]]["parameters"] == builtin["parameters"]
    results = [normalise(texts(o)) for o in run.outputs]
    session = re.search(r"session ID (\d+)", results[1])
    assert session and 1000 <= int(session.group(1)) < 100_000, results[1]
    sid = session.group(1)
    # Current Codex puts a line of its own before the server's text.
    running = f"{unified}Process running with session ID {sid}\nOriginal token count:"
    assert [r.split("\n", 2)[2] if r.startswith("Wall time") else r for r in results] == [
        f"{unified}Process exited with code 0\nOriginal token count: 2\nOutput:\nhi\nerr\n",
        f"{running} 1\nOutput:\n>>> ",
        f"{running} 5\nOutput:\nprint(6*7)\r\n42\r\n>>> ",
        f"{unified}Process exited with code 0\nOriginal token count: 2\nOutput:\nexit()\r\n",
        "write_stdin failed: Unknown process id 99",
    ]
