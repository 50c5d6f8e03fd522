"""The `streamshell` command line: tools, call, help, exit codes, and a lazy MCP import."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamshell.cli import main
from streamshell.tools.formats import anthropic_tools, chat_completions_tools, mcp_tools, responses_api_tools

REFERENCE = json.loads((Path(__file__).parent / "data" / "codex-0.29.0-tools.json").read_text())


def run(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "streamshell", *args],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    # Decoded by hand: text=True would turn the PTY's \r\n into \n.
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("responses", responses_api_tools()),
        ("chat", chat_completions_tools()),
        ("anthropic", anthropic_tools()),
        ("mcp", mcp_tools(extended=False)),
    ],
)
def test_tools_prints_each_format(
    fmt: str, expected: list[dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tools", "--format", fmt]) == 0
    assert json.loads(capsys.readouterr().out) == expected


def test_tools_can_show_what_serve_advertises(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "--format", "mcp", "--schema", "extended"]) == 0
    assert json.loads(capsys.readouterr().out) == mcp_tools()


def test_tools_default_is_the_references_responses_tools() -> None:
    done = run("tools")
    assert done.returncode == 0
    assert json.loads(done.stdout) == REFERENCE[:2]


def test_formats_carry_the_same_schemas() -> None:
    for responses, chat, anthropic in zip(
        responses_api_tools(extended=True),
        chat_completions_tools(extended=True),
        anthropic_tools(extended=True),
        strict=True,
    ):
        assert chat["function"]["parameters"] == anthropic["input_schema"] == responses["parameters"]
        assert chat["function"]["name"] == anthropic["name"] == responses["name"]


def test_tools_does_not_import_the_mcp_sdk() -> None:
    probe = (
        "import sys; from streamshell.cli import main; main(['tools']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcp'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_call_runs_pairs_in_one_process() -> None:
    done = run(
        "call",
        "exec_command",
        '{"cmd": "cat", "login": false, "yield_time_ms": 0}',
        "write_stdin",
        '{"session_id": 0, "chars": "hi\\n\\u0004", "yield_time_ms": 60000}',
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.split("\n\n")
    assert "Process running with session ID 0" in first
    # ^D ends cat: the call returns at its exit, with the terminal's echo and cat's copy.
    assert second.endswith("Process exited with code 0\nOutput:\nhi\r\nhi\r\n")


def test_call_exit_code_says_a_call_failed() -> None:
    done = run("call", "write_stdin", '{"session_id": 3, "chars": ""}')
    assert (done.returncode, done.stdout) == (1, "unknown session id 3\n")


def test_call_needs_pairs() -> None:
    done = run("call", "exec_command")
    assert done.returncode == 2
    assert "call takes NAME ARGUMENTS pairs" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["serve", "--tools", "exec_command,rm"],
            "unknown tool(s) rm; choose from exec_command, write_stdin, list_sessions, kill_session",
        ),
        (["serve", "--port", "99999"], "'99999' is not a port number"),
        (["serve", "--max-sessions", "0"], "'0' is not a whole number >= 1"),
        (["serve", "--cwd", "/nonexistent/dir"], "'/nonexistent/dir' is not an existing directory"),
        (["serve", "--schema", "strict"], "invalid choice: 'strict'"),
        (["tools", "--format", "xml"], "invalid choice: 'xml'"),
        (["launch"], "invalid choice: 'launch'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_flags_are_usage_errors(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["tools", "--help"], ["call", "--help"]])
def test_help_everywhere(args: list[str]) -> None:
    done = run(*args)
    assert done.returncode == 0 and done.stdout.startswith("usage: streamshell")


def test_call_help_says_sessions_live_only_as_long_as_the_process() -> None:
    assert "Sessions live only as long as this process" in run("call", "--help").stdout.replace("\n", " ")


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("streamshell 0.")


@pytest.mark.parametrize("command", ["serve", "tools", "agent"])
def test_an_unknown_flag_shows_the_subcommands_usage(command: str) -> None:
    done = run(command, "--bogus", *(["task"] if command == "agent" else []))
    assert done.returncode == 2
    assert done.stderr.startswith(f"usage: streamshell {command} ")
    assert done.stderr.rstrip().endswith(f"streamshell {command}: error: unrecognized arguments: --bogus")


def test_a_closed_pipe_ends_quietly() -> None:
    done = subprocess.run(
        f"{sys.executable} -m streamshell tools --format mcp --schema extended | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[\n", "")


def test_a_missing_sdk_names_the_package_to_install() -> None:
    code = (
        "import sys; sys.modules['mcp'] = None; from streamshell.cli import main; sys.exit(main(['serve']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 3
    # The requirement as streamshell's metadata states it (pyproject.toml's dependencies).
    assert re.search(
        r"needs the Python package 'mcp[<>=,.\d]+'.*: pip install 'mcp[<>=,.\d]+'$", done.stderr.strip()
    )


def test_the_unified_profile_from_the_command_line() -> None:
    tools = json.loads(run("tools", "--profile", "unified").stdout)
    assert tools == json.loads((Path(__file__).parent / "data" / "codex-0.171.0-tools.json").read_text())
    done = run("call", "--profile", "unified", "exec_command", '{"cmd": "echo hi"}')
    assert done.returncode == 0
    assert done.stdout.startswith("Chunk ID: ") and done.stdout.endswith("Output:\nhi\n\n"[:-1])
