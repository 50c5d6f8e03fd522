"""What `streamshell agent` shows a person (stderr, the answer on stdout) and a program (JSON lines)."""

from __future__ import annotations

import io
import json

import pytest

from streamshell.agent.display import (
    AgentMessage,
    Error,
    Interrupted,
    JsonDisplay,
    TaskComplete,
    TerminalDisplay,
    ToolCall,
    ToolOutputDelta,
    ToolResult,
    describe_call,
)

RUNNING = "Wall time: 0.500 seconds\nProcess running with session ID 2\nOutput:\n"


def result(
    output: str, *, call_id: str = "c1", exit_code: int | None = None, session_id: int | None = None
) -> ToolResult:
    return ToolResult(call_id, "write_stdin", True, exit_code, session_id, 0.5, output)


@pytest.mark.parametrize(
    ("name", "arguments", "shown"),
    [
        ("exec_command", '{"cmd": "make -j4"}', "$ make -j4"),
        ("shell", '{"command": ["bash", "-lc", "ls -l"]}', "$ bash -lc 'ls -l'"),
        ("write_stdin", '{"session_id": 2, "chars": "print(1)\\n"}', '> session 2: "print(1)\\n"'),
        ("write_stdin", '{"session_id": 2, "chars": "\\u0003"}', '> session 2: "\\u0003"'),
        ("write_stdin", '{"session_id": 2, "chars": ""}', "(waiting for session 2)"),
        ("write_stdin", '{"session_id": 2}', 'write_stdin {"session_id": 2}'),
        ("exec_command", "{not json", "exec_command {not json"),
        ("foo_tool", "{}", "foo_tool {}"),
    ],
)
def test_calls_are_shown_as_a_terminal_user_reads_them(name: str, arguments: str, shown: str) -> None:
    assert describe_call(name, arguments) == shown


def show(*events: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    display = TerminalDisplay(out, err)
    for event in events:
        display(event)  # type: ignore[arg-type]
    return out.getvalue(), err.getvalue()


def test_live_output_then_the_status_on_its_own_line() -> None:
    out, err = show(
        ToolCall("c1", "write_stdin", '{"session_id": 2, "chars": "print(6*7)\\n"}'),
        ToolOutputDelta("c1", "print(6*7)\r\n42\r\n"),
        ToolOutputDelta("c1", ">>> "),
        result(RUNNING + "print(6*7)\r\n42\r\n>>> ", session_id=2),
        AgentMessage("Checking.", final=False),
        AgentMessage("It is 42.", final=True),
        TaskComplete("It is 42."),
    )
    assert err == (
        '> session 2: "print(6*7)\\n"\nprint(6*7)\r\n42\r\n>>> \n[running as session 2, 0.50 s]\nChecking.\n'
    )
    assert out == "It is 42.\n"


def test_exit_errors_and_interruptions() -> None:
    _, err = show(
        ToolCall("c1", "exec_command", '{"cmd": "false"}'),
        ToolResult("c1", "exec_command", True, 1, None, 0.01, "Wall time: 0.010 seconds\n..."),
        ToolCall("c2", "write_stdin", '{"session_id": 9, "chars": "x"}'),
        ToolResult("c2", "write_stdin", False, None, None, 0.0, "unknown session id 9"),
        Interrupted(2),
        Error("the model API failed: Connection error."),
    )
    assert err.splitlines() == [
        "$ false",
        "[exit code 1, 0.01 s]",
        '> session 9: "x"',
        "[error: unknown session id 9]",
        "interrupted: stopped the agent and killed 2 running session(s)",
        "streamshell agent: the model API failed: Connection error.",
    ]


def test_json_lines() -> None:
    out = io.StringIO()
    display = JsonDisplay(out)
    display(ToolOutputDelta("c1", "café\r\n"))
    display(result("x", exit_code=0))
    lines = out.getvalue().splitlines()
    assert lines[0] == '{"type": "tool_output_delta", "call_id": "c1", "text": "café\\r\\n"}'
    assert json.loads(lines[1]) == {
        "type": "tool_result",
        "call_id": "c1",
        "name": "write_stdin",
        "success": True,
        "exit_code": 0,
        "session_id": None,
        "duration_seconds": 0.5,
        "output": "x",
    }
