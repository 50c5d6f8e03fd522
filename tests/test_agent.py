"""`streamshell agent` end to end: the real CLI process, the openai SDK, and the scripted fake Responses
server the reference Codex was driven with (vendored in tests/), over loopback HTTP.

The fake model hands out one scripted tool call per request and records every request, so the tests
read exactly what the agent sent back as `function_call_output` and which tools it advertised.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from fake_responses_server import start_server
from helpers import MARK, marked_processes, wait_until
from streamshell.cli import main
from streamshell.tools.formats import responses_api_tools
from streamshell.tools.toolsconfig import shell_tool

DATA = Path(__file__).parent / "data"
CODEX_CALLS = json.loads((DATA / "codex-0.29.0-calls_main.json").read_text())
TIMEOUT = 120


def normalise(text: str) -> str:
    text = re.sub(r"^Wall time: \d+\.\d{3} seconds", "Wall time: <t> seconds", text)
    return re.sub(r'"duration_seconds":\d+\.\d+\}', '"duration_seconds":"<d>"}', text)


@contextmanager
def fake_model(script: list[dict[str, Any]], log_dir: Path) -> Iterator[str]:
    """The reference harness's fake Responses API serving ``script``; yields its base URL."""
    httpd, state = start_server(script, str(log_dir))
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        for log in (state.req_log, state.timing_log, state.other_log):
            log.close()


def recorded_requests(log_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["body"] for line in (log_dir / "requests.jsonl").read_text().splitlines()]


def sent_outputs(log_dir: Path) -> list[str]:
    """The function_call_output texts of the last request, normalised, in call order."""
    last = recorded_requests(log_dir)[-1]
    return [normalise(item["output"]) for item in last["input"] if item.get("type") == "function_call_output"]


def agent_env(base_url: str, tmp_path: Path) -> dict[str, str]:
    """The test's environment (with the leak detector's marker), pointed at the fake, without user config."""
    return {
        **os.environ,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-test",
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }


def run_agent(base_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "streamshell", "agent", *args, "Harness run: follow the scripted tool calls."],
        env=agent_env(base_url, tmp_path),
        cwd=tmp_path,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    # Decoded by hand: text=True would turn the PTY's \r\n into \n.
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


PYTHON = "PYTHON_BASIC_REPL=1 python3 -i -q"
SCRIPT = [
    {"name": "exec_command", "arguments": {"cmd": "echo hello", "login": False}},
    # Generous yields: each call's text is compared exactly, so python must have answered by then.
    {"name": "exec_command", "arguments": {"cmd": PYTHON, "login": False, "yield_time_ms": 5000}},
    {"name": "write_stdin", "arguments": {"session_id": 1, "chars": "print(6*7)\n", "yield_time_ms": 3000}},
    {
        "name": "write_stdin",
        "arguments": {"session_id": 1, "chars": "import time; time.sleep(60)\n", "yield_time_ms": 1000},
    },
    {"name": "write_stdin", "arguments": {"session_id": 1, "chars": "\u0003", "yield_time_ms": 3000}},
    {
        "name": "exec_command",
        "arguments": {"cmd": "seq 1 100000", "max_output_tokens": 100, "yield_time_ms": 10_000},
    },
    {"name": "write_stdin", "arguments": {"session_id": 1, "chars": "exit()\n", "yield_time_ms": 10_000}},
    {"name": "write_stdin", "arguments": {"session_id": 1, "chars": "", "yield_time_ms": 100}},
]
RUNNING = "Wall time: <t> seconds\nProcess running with session ID 1\nOutput:\n"
EXITED = "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\n"
SEQ_REFERENCE = normalise(CODEX_CALLS[11]["output_text"])  # what Codex 0.29.0 sent for the same seq call
EXPECTED = [
    EXITED + "hello\r\n",
    RUNNING + ">>> ",
    RUNNING + "print(6*7)\r\n42\r\n>>> ",
    RUNNING + "import time; time.sleep(60)\r\n",
    RUNNING + '^CTraceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n'
    "KeyboardInterrupt\r\n>>> ",
    SEQ_REFERENCE,
    EXITED + "exit()\r\n",
    "session id 1 already exited with code 0; start a new one with exec_command",
]


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One agent run of SCRIPT with the exec_command tools, shared by the tests that read it."""
    tmp_path = tmp_path_factory.mktemp("agent")
    log_dir = tmp_path / "log"
    with fake_model(SCRIPT, log_dir) as url:
        done = run_agent(url, tmp_path, "-c", "experimental_use_exec_command_tool=true")
    return done, log_dir


def test_the_model_gets_exactly_the_tool_output(
    scripted_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, log_dir = scripted_run
    assert done.returncode == 0, done.stderr
    same_call = {k: v for k, v in CODEX_CALLS[11]["call"]["arguments"].items() if k != "yield_time_ms"}
    assert same_call.items() <= SCRIPT[5]["arguments"].items()
    assert sent_outputs(log_dir) == EXPECTED


def test_every_request_carries_the_whole_conversation(
    scripted_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, log_dir = scripted_run
    requests = recorded_requests(log_dir)
    assert len(requests) == len(SCRIPT) + 1
    for n, request in enumerate(requests):
        assert request["stream"] is True
        assert request["tools"] == responses_api_tools()
        assert request["parallel_tool_calls"] is False
        assert request["input"][0] == {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Harness run: follow the scripted tool calls."}],
        }
        calls = [i["call_id"] for i in request["input"] if i.get("type") == "function_call"]
        outputs = [i["call_id"] for i in request["input"] if i.get("type") == "function_call_output"]
        assert calls == outputs == [f"call_h{i:03d}" for i in range(n)]
    assert "exec_command" in requests[0]["instructions"]


def test_the_terminal_shows_commands_output_and_status(
    scripted_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, _ = scripted_run
    assert done.stdout == "HARNESS_DONE\n"
    shown = done.stderr
    for line in (
        "streamshell agent: model gpt-5, tools exec_command, write_stdin, in ",
        "$ echo hello\nhello\r\n[exit code 0, ",
        f"$ {PYTHON}\n>>> \n[running as session 1, ",
        '> session 1: "print(6*7)\\n"\nprint(6*7)\r\n42\r\n>>> \n[running as session 1, ',
        '> session 1: "\\u0003"\n^CTraceback',
        "$ seq 1 100000\n1\r\n2\r\n",
        "(waiting for session 1)\n[error: session id 1 already exited with code 0; start a new one ",
    ):
        assert line in shown


def test_json_events(tmp_path: Path) -> None:
    script = [{"name": "exec_command", "arguments": {"cmd": "echo one; sleep 0.2; echo two", "login": False}}]
    with fake_model(script, tmp_path / "log") as url:
        done = run_agent(url, tmp_path, "--json", "-c", "experimental_use_exec_command_tool=true")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the sandbox is told in the first event
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["type"] for e in events[:2]] == ["task_started", "tool_call"]
    assert events[0] == {
        "type": "task_started",
        "model": "gpt-5",
        "tools": ["exec_command", "write_stdin"],
        "cwd": str(tmp_path),
        "confinement": f"sandbox: workspace-write; writable: {tmp_path}, a private /tmp (.git inside them "
        "read-only); network on; limits: none",
    }
    deltas = [e["text"] for e in events if e["type"] == "tool_output_delta"]
    assert "".join(deltas) == "one\r\ntwo\r\n"
    [result] = [e for e in events if e["type"] == "tool_result"]
    assert result["call_id"] == "call_h000" and result["exit_code"] == 0 and result["session_id"] is None
    assert (
        normalise(result["output"])
        == "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\none\r\ntwo\r\n"
    )
    assert events[-2:] == [
        {"type": "agent_message", "text": "HARNESS_DONE", "final": True},
        {"type": "task_complete", "last_agent_message": "HARNESS_DONE"},
    ]


def test_flag_off_advertises_the_shell_tool_and_runs_it(tmp_path: Path) -> None:
    script = [
        {"name": "shell", "arguments": {"command": ["sh", "-c", "echo out; echo err >&2; exit 3"]}},
        {"name": "exec_command", "arguments": {"cmd": "echo still dispatched", "login": False}},
    ]
    with fake_model(script, tmp_path / "log") as url:
        done = run_agent(url, tmp_path)
    assert done.returncode == 0, done.stderr
    requests = recorded_requests(tmp_path / "log")
    assert all(request["tools"] == [shell_tool()] for request in requests)
    assert "shell tool" in requests[0]["instructions"]
    assert sent_outputs(tmp_path / "log") == [
        '{"output":"out\\nerr\\n","metadata":{"exit_code":3,"duration_seconds":"<d>"}}',
        "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\nstill dispatched\r\n",
    ]
    assert "$ sh -c 'echo out; echo err >&2; exit 3'\nout\nerr\n[exit code 3, " in done.stderr


def test_config_file_and_instructions_file(tmp_path: Path) -> None:
    (tmp_path / "xdg" / "streamshell").mkdir(parents=True)
    (tmp_path / "prompt.md").write_text("Only use write_stdin.\n")
    (tmp_path / "work").mkdir()
    (tmp_path / "xdg" / "streamshell" / "config.toml").write_text(
        'model = "o3"\nexperimental_use_exec_command_tool = true\n'
        f'experimental_instructions_file = "{tmp_path / "prompt.md"}"\ncwd = "work"\n'
    )
    with fake_model(
        [{"name": "exec_command", "arguments": {"cmd": "pwd", "login": False}}], tmp_path / "log"
    ) as url:
        done = run_agent(url, tmp_path)
    assert done.returncode == 0, done.stderr
    [first, _] = recorded_requests(tmp_path / "log")
    assert (first["model"], first["instructions"]) == ("o3", "Only use write_stdin.")
    assert first["tools"] == responses_api_tools()
    assert sent_outputs(tmp_path / "log") == [
        f"Wall time: <t> seconds\nProcess exited with code 0\nOutput:\n{tmp_path / 'work'}\r\n"
    ]


async def test_ctrl_c_stops_the_agent_and_kills_its_sessions(tmp_path: Path) -> None:
    script = [
        {
            "name": "exec_command",
            "arguments": {"cmd": "sleep 1000 & echo started; sleep 1001", "login": False},
        },
    ]
    with fake_model(script, tmp_path / "log") as url:
        agent = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streamshell",
            "agent",
            "-c",
            "experimental_use_exec_command_tool=true",
            "-c",
            "keep_unread_output=false",
            "start something long",
            env=agent_env(url, tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert agent.stderr is not None
        shown = b""
        while b"started\r\n" not in shown:
            shown += await asyncio.wait_for(agent.stderr.readline(), TIMEOUT)
        agent.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(agent.communicate(), TIMEOUT)
    assert agent.returncode == 130
    assert out == b""
    assert err == b"interrupted: stopped the agent and killed 1 running session(s)\n"
    mark = os.environ[MARK]
    await wait_until(lambda: not marked_processes(mark), timeout=TIMEOUT, what="the sleeps to be killed")


def test_config_errors_exit_2_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["agent", "-c", "experimental_use_exec_comand_tool=true", "task"]) == 2
    assert capsys.readouterr().err.startswith(
        "streamshell agent: -c experimental_use_exec_comand_tool=true: unknown config key "
        "experimental_use_exec_comand_tool; accepted keys: model, "
    )
    assert main(["agent", "--config", str(tmp_path / "missing.toml"), "task"]) == 2
    assert (
        capsys.readouterr().err
        == f"streamshell agent: config file {tmp_path / 'missing.toml'} does not exist\n"
    )
    (tmp_path / "empty.md").write_text("")
    assert main(["agent", "-c", f"experimental_instructions_file={tmp_path / 'empty.md'}", "task"]) == 2
    assert capsys.readouterr().err.endswith("empty.md: the file is empty\n")


def test_a_missing_key_or_a_dead_api_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["agent", "task"]) == 3
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with fake_model([], tmp_path / "log") as url:
        dead = url  # the port is closed once the fake has stopped
    assert main(["agent", "-c", f"base_url={dead!r}", "task"]) == 3
    assert "streamshell agent: the model API failed: Connection error." in capsys.readouterr().err


def test_tools_and_help_do_not_import_the_openai_sdk() -> None:
    probe = (
        "import sys; from streamshell.cli import main; main(['tools']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'openai', 'agents', 'anthropic'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.stdout.strip().splitlines()[-1] == "[]"
