"""Claude Code (the real CLI from npm) with streamshell added as the README says, driven by `claude -p`
against the scripted fake Anthropic Messages API on loopback."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import npm_cache
from fake_anthropic import DONE, fake_anthropic, tool_results
from helpers import MARK, marked_processes
from readme_clients import client_config

pytestmark = pytest.mark.xdist_group("clients")  # see test_client_codex.py

PYTHON = "PYTHON_BASIC_REPL=1 python3 -i -q"
TOOL = "mcp__streamshell__"
SCRIPT: list[dict[str, Any]] = [
    {"name": TOOL + "exec_command", "arguments": {"cmd": PYTHON, "login": False, "yield_time_ms": 5000}},
    {
        "name": TOOL + "write_stdin",
        "arguments": {"session_id": 0, "chars": "print(6*7)\n", "yield_time_ms": 3000},
    },
    {"name": TOOL + "write_stdin", "arguments": {"session_id": 99, "chars": ""}},
    {"name": TOOL + "exec_command", "arguments": {"cmd": "echo $A", "env": ["A=from-env"], "login": False}},
    {"name": TOOL + "exec_command", "arguments": {"cmd": "true", "bogus": 1}},
    {"name": TOOL + "list_sessions", "arguments": {}},
]


def _wait_for_servers_to_exit(timeout: float = 120) -> None:
    """Claude Code closes its servers' stdin as it exits; each then ends its sessions and exits."""
    deadline = time.monotonic() + timeout
    while any("streamshell" in cmd for _, cmd in marked_processes(os.environ[MARK])):
        assert time.monotonic() < deadline, marked_processes(os.environ[MARK])
        time.sleep(0.1)


def text_of(result: dict[str, Any]) -> str:
    content = result["content"]
    return content if isinstance(content, str) else "".join(block["text"] for block in content)


def test_claude_code_runs_the_scripted_session(tmp_path: Path) -> None:
    claude = npm_cache.CLAUDE_CODE.bin("claude")
    npm_cache.installed(npm_cache.CLAUDE_CODE)
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),  # its own settings: nothing of the user's is read or written
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # Wait for the server before the first request, however long a shared machine takes to start it.
        "MCP_CONNECTION_NONBLOCKING": "false",
        "MCP_TIMEOUT": "120000",
        "MCP_CONNECT_TIMEOUT_MS": "120000",
    }
    [add_line, *_] = client_config("claude-code").splitlines()
    add = shlex.split(add_line)
    assert add[0] == "claude"
    done = subprocess.run(
        [str(claude), *add[1:]], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    logs = tmp_path / "logs"
    with fake_anthropic(SCRIPT, logs) as (url, _):
        done = subprocess.run(
            [
                str(claude),
                "-p",
                "run the harness",
                "--allowedTools",
                "mcp__streamshell",
                "--output-format",
                "json",
            ],
            env={**env, "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-fake"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 0, done.stderr
    _wait_for_servers_to_exit()
    answer = json.loads(done.stdout)
    assert answer.get("result") == DONE, answer
    results = tool_results(logs)
    texts = [text_of(r) for r in results]
    wall = "Wall time: "
    assert [t.split(" seconds\n", 1)[1] if t.startswith(wall) else t for t in texts[:5]] == [
        "Process running with session ID 0\nOutput:\n>>> ",
        "Process running with session ID 0\nOutput:\nprint(6*7)\r\n42\r\n>>> ",
        "unknown session id 99",
        "Process exited with code 0\nOutput:\nfrom-env\r\n",
        "failed to parse function arguments: unknown field `bogus`, expected one of `cmd`, `yield_time_ms`, "
        "`max_output_tokens`, `shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, `view`",
    ]
    assert [bool(r.get("is_error")) for r in results[:5]] == [False, False, True, False, True]
    assert '"session_id": 0' in texts[5] and '"running": true' in texts[5]
