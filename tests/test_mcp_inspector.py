"""A third-party MCP client: the MCP Inspector CLI from npm, against `streamshell serve` over stdio."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

INSPECTOR_VERSION = "0.15.0"  # the newest that runs on Node 20 (2.x needs Node >= 22.19)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "streamshell-tests"


@pytest.fixture(scope="module")
def inspector() -> Path:
    """The inspector's CLI, installed once into a cache directory (skipped only without npm)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the MCP Inspector CLI cannot be fetched")
    prefix = CACHE / f"inspector-{INSPECTOR_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "mcp-inspector"
    if not binary.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(prefix),
                f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}",
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )
    return binary


def inspect(inspector: Path, *args: str) -> dict[str, object]:
    run = subprocess.run(
        [str(inspector), "--cli", sys.executable, "-m", "streamshell", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout)
    return result


def test_inspector_lists_the_tools(inspector: Path) -> None:
    listed = inspect(inspector, "--method", "tools/list")
    tools = listed["tools"]
    assert isinstance(tools, list)
    assert [t["name"] for t in tools] == ["exec_command", "write_stdin", "list_sessions", "kill_session"]
    assert tools[0]["inputSchema"]["required"] == ["cmd"]
    assert tools[0]["annotations"]["destructiveHint"] is True


def test_inspector_calls_exec_command(inspector: Path) -> None:
    result = inspect(
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
    result = inspect(
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
