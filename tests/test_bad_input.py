"""A table of malformed calls: each gets one clear error and changes nothing else."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from streamshell import SessionManager, handle_function_call

P = "failed to parse function arguments: "
S = "failed to create exec command session for session id "

# Session 0 is a `cat` started before each case; 1 is `true`, which has exited and was reported.
CASES: list[tuple[str, str, str]] = [
    # --- malformed JSON
    ("exec_command", "{not json", P + "key must be a string at line 1 column 2"),
    ("exec_command", "", P + "EOF while parsing a value at line 1 column 0"),
    ("exec_command", "   ", P + "EOF while parsing a value at line 1 column 3"),
    ("exec_command", '{"cmd": "ls"', P + "EOF while parsing an object at line 1 column 12"),
    ("exec_command", '{"cmd" "ls"}', P + "expected `:` at line 1 column 8"),
    ("exec_command", '{"cmd": "ls",}', P + "trailing comma at line 1 column 14"),
    ("exec_command", '{"cmd": "ls"} extra', P + "trailing characters at line 1 column 15"),
    ("exec_command", '{"cmd": "ls" "x": 1}', P + "expected `,` or `}` at line 1 column 14"),
    ("exec_command", '{"cmd": "a\\qb"}', P + "invalid escape at line 1 column 12"),
    ("exec_command", '{"cmd": "ls}', P + "EOF while parsing a string at line 1 column 12"),
    ("exec_command", '{"cmd": NaN}', P + "expected value at line 1 column 9"),
    (
        "exec_command",
        '{"cmd": "\\ud800"}',
        P + "cmd: invalid unicode code point: the string holds a lone surrogate at line 1 column 16",
    ),
    # --- not an object
    (
        "exec_command",
        "[]",
        P + "invalid type: sequence, expected struct ExecCommandParams at line 1 column 2",
    ),
    (
        "exec_command",
        '"ls"',
        P + 'invalid type: string "ls", expected struct ExecCommandParams at line 1 column 4',
    ),
    ("write_stdin", "null", P + "invalid type: null, expected struct WriteStdinParams at line 1 column 4"),
    (
        "write_stdin",
        "7",
        P + "invalid type: integer `7`, expected struct WriteStdinParams at line 1 column 1",
    ),
    # --- missing, unknown and duplicate fields
    ("exec_command", "{}", P + "missing field `cmd` at line 1 column 2"),
    ("write_stdin", '{"chars": ""}', P + "missing field `session_id` at line 1 column 13"),
    ("write_stdin", '{"session_id": 0}', P + "missing field `chars` at line 1 column 17"),
    (
        "exec_command",
        '{"cmd": "ls", "timeout": 5}',
        P
        + "unknown field `timeout`, expected one of `cmd`, `yield_time_ms`, `max_output_tokens`, `shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, `view` at line 1 column 23",
    ),
    (
        "write_stdin",
        '{"session_id": 0, "chars": "", "input": "x"}',
        P
        + "unknown field `input`, expected one of `session_id`, `chars`, `yield_time_ms`, `max_output_tokens`, `wait_for`, `view` at line 1 column 38",
    ),
    ("exec_command", '{"cmd": "ls", "cmd": "pwd"}', P + "duplicate field `cmd` at line 1 column 19"),
    # --- wrong types
    (
        "exec_command",
        '{"cmd": 5}',
        P + "cmd: invalid type: integer `5`, expected a string at line 1 column 9",
    ),
    (
        "exec_command",
        '{"cmd": ["ls"]}',
        P + "cmd: invalid type: sequence, expected a string at line 1 column 14",
    ),
    ("exec_command", '{"cmd": null}', P + "cmd: invalid type: null, expected a string at line 1 column 12"),
    (
        "exec_command",
        '{"cmd": "ls", "login": "yes"}',
        P + 'login: invalid type: string "yes", expected a boolean at line 1 column 28',
    ),
    (
        "exec_command",
        '{"cmd": "ls", "shell": false}',
        P + "shell: invalid type: boolean `false`, expected a string at line 1 column 28",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "yield_time_ms": "10"}',
        P + 'yield_time_ms: invalid type: string "10", expected u64 at line 1 column 35',
    ),
    (
        "exec_command",
        '{"cmd": "ls", "yield_time_ms": 1.5}',
        P + "yield_time_ms: invalid type: floating point `1.5`, expected u64 at line 1 column 34",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "max_output_tokens": 1e3}',
        P + "max_output_tokens: invalid type: floating point `1000.0`, expected u64 at line 1 column 38",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "env": ["A"]}',
        P + 'env[0]: "A" is not NAME=value at line 1 column 26',
    ),
    (
        "exec_command",
        '{"cmd": "ls", "env": 3}',
        P + 'env: invalid type: integer `3`, expected a sequence of "NAME=value" strings or a map of names '
        "to values at line 1 column 22",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "env": ["A=1", 2]}',
        P + "env[1]: invalid type: integer `2`, expected a string at line 1 column 31",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "env": {"A": 1}}',
        P + "env.A: invalid type: integer `1`, expected a string at line 1 column 29",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "tty": "false"}',
        P + 'tty: invalid type: string "false", expected a boolean at line 1 column 28',
    ),
    (
        "write_stdin",
        '{"session_id": "0", "chars": ""}',
        P + 'session_id: invalid type: string "0", expected u32 at line 1 column 18',
    ),
    (
        "write_stdin",
        '{"session_id": 0, "chars": 3}',
        P + "chars: invalid type: integer `3`, expected a string at line 1 column 28",
    ),
    (
        "write_stdin",
        '{"session_id": 0.5, "chars": ""}',
        P + "session_id: invalid type: floating point `0.5`, expected u32 at line 1 column 18",
    ),
    # --- negative and absurd numbers
    (
        "exec_command",
        '{"cmd": "ls", "yield_time_ms": -1}',
        P + "yield_time_ms: invalid value: integer `-1`, expected u64 at line 1 column 33",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "max_output_tokens": -100}',
        P + "max_output_tokens: invalid value: integer `-100`, expected u64 at line 1 column 39",
    ),
    ("exec_command", '{"cmd": "ls", "yield_time_ms": 1e400}', P + "number out of range at line 1 column 36"),
    (
        "exec_command",
        '{"cmd": "ls", "yield_time_ms": 18446744073709551616}',
        P
        + "yield_time_ms: invalid type: floating point `18446744073709552000.0`, expected u64 at line 1 column 51",
    ),
    (
        "write_stdin",
        '{"session_id": -1, "chars": ""}',
        P + "session_id: invalid value: integer `-1`, expected u32 at line 1 column 17",
    ),
    (
        "write_stdin",
        '{"session_id": 4294967296, "chars": ""}',
        P + "session_id: invalid value: integer `4294967296`, expected u32 at line 1 column 25",
    ),
    # --- sessions that do not exist or have ended
    ("write_stdin", '{"session_id": 999, "chars": "x"}', "unknown session id 999"),
    (
        "write_stdin",
        '{"session_id": 1, "chars": ""}',
        "session id 1 already exited with code 0; start a new one with exec_command",
    ),
    (
        "write_stdin",
        '{"session_id": 1, "chars": "x"}',
        "session id 1 already exited with code 0; start a new one with exec_command",
    ),
    # --- commands that cannot start (they use up a session id, as in the reference)
    (
        "exec_command",
        '{"cmd": "echo \\u0000hi"}',
        S + "{next}: the command contains a NUL byte (at character 5); a NUL cannot be passed to a process",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "shell": "/nonexistent/shell"}',
        S
        + "{next}: Unable to spawn /nonexistent/shell because it doesn't exist on the filesystem (ENOENT: No such file or directory)",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "shell": "/"}',
        S + "{next}: Unable to spawn / because it is a directory",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "shell": "{not_executable}"}',
        S
        + "{next}: Unable to spawn {not_executable} because it is not executable (EACCES: Permission denied)",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "shell": "no-such-shell-xyz"}',
        S + '{next}: Unable to spawn no-such-shell-xyz because:\nNo viable candidates found in PATH "{path}"',
    ),
    ("exec_command", '{"cmd": "ls", "shell": ""}', S + "{next}: Unable to spawn an empty program name"),
    (
        "exec_command",
        '{"cmd": "ls", "workdir": "/nonexistent/dir"}',
        S + "{next}: working directory /nonexistent/dir does not exist",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "workdir": "{not_executable}"}',
        S + "{next}: working directory {not_executable} is not a directory",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "env": {"A=B": "1"}}',
        S + "{next}: environment variable name 'A=B' must be non-empty and contain no '='",
    ),
    (
        "exec_command",
        '{"cmd": "ls", "env": {"A": "x\\u0000y"}}',
        S + "{next}: environment variable 'A' contains a NUL byte",
    ),
    # --- the one-shot shell tool (dispatched like the reference, whichever tools were advertised)
    (
        "shell",
        '{"command": "ls"}',
        P + 'command: invalid type: string "ls", expected a sequence at line 1 column 16',
    ),
    (
        "shell",
        '{"command": ["ls", 1]}',
        P + "command[1]: invalid type: integer `1`, expected a string at line 1 column 21",
    ),
    ("shell", '{"command": []}', "execution error: command args are empty"),
    (
        "shell",
        '{"command": ["ls"], "timeout": 1, "timeout_ms": 2}',
        P + "duplicate field `timeout_ms` at line 1 column 46",
    ),
    (
        "shell",
        '{"command": ["ls"], "workdir": "/nonexistent-dir"}',
        "execution error: working directory /nonexistent-dir does not exist",
    ),
    # --- tools that do not exist
    ("foo_tool", "{}", "unsupported call: foo_tool"),
    ("local_shell", '{"command": ["ls"]}', "unsupported call: local_shell"),
    # --- hostile input: every one is a tool result, none raises (issue 10, finding 4)
    (
        "exec_command",
        '{"cmd": "echo \ud800"}',  # a lone surrogate in the text itself, not as an escape
        P + "cmd: invalid unicode code point: the string holds a lone surrogate at line 1 column 18",
    ),
    (
        "exec_command",
        '{"\\udcff": 1}',
        P
        + "unknown field `\\udcff`, expected one of `cmd`, `yield_time_ms`, `max_output_tokens`, `shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, `view` at line 1 column 9",
    ),
    ("write_stdin", '{"session_id": ' + "9" * 400 + "}", P + "number out of range at line 1 column 415"),
    ("write_stdin", '{"session_id": 1' + "0" * 5000 + "}", P + "number out of range at line 1 column 5016"),
    ("exec_command", "[" * 100_000, P + "recursion limit exceeded at line 1 column 129"),
    (
        "exec_command",
        '{"cmd": ' + "[" * 129 + "]" * 129 + "}",
        P + "recursion limit exceeded at line 1 column 137",
    ),
    # --- a huge value is quoted cut short, with a count of the rest (finding 5)
    (
        "exec_command",
        '{"cmd": "ls", "login": "' + "y" * 1_000_000 + '"}',
        P
        + 'login: invalid type: string "'
        + "y" * 200
        + '…" (999800 more characters), expected a boolean at line 1 column 1000025',
    ),
    ("x" * 100_000, "{}", "unsupported call: " + "x" * 200 + "… (99800 more characters)"),
    # --- the shell tool's timeout is bounded, and a path cannot hide a NUL (findings 9, 10)
    (
        "shell",
        '{"command": ["sleep", "1000"], "timeout_ms": 18446744073709551615}',
        P
        + "timeout_ms: invalid value: integer `18446744073709551615`, expected at most 600000 (10 minutes) at line 1 column 65",
    ),
    (
        "shell",
        '{"command": ["sleep", "1000"], "timeout": 1000000000}',
        P
        + "timeout_ms: invalid value: integer `1000000000`, expected at most 600000 (10 minutes) at line 1 column 52",
    ),
    (
        "exec_command",
        '{"cmd": "pwd", "workdir": "/tmp\\u0000/etc"}',
        P + "workdir: contains a NUL byte (at character 4); a path cannot hold one at line 1 column 42",
    ),
    (
        "shell",
        '{"command": ["pwd"], "workdir": "/tmp\\u0000/etc"}',
        P + "workdir: contains a NUL byte (at character 4); a path cannot hold one at line 1 column 48",
    ),
]


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 40


@pytest.fixture
def not_executable(tmp_path: Path) -> str:
    path = tmp_path / "plain-file"
    path.write_text("echo hi\n")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return str(path)


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"), CASES, ids=[f"{i}:{c[0]}" for i, c in enumerate(CASES)]
)
async def test_bad_call_gets_one_clear_error_and_changes_nothing(
    tool: str, arguments: str, expected: str, not_executable: str
) -> None:
    async with SessionManager() as manager:
        cat = await handle_function_call(
            manager, "exec_command", '{"cmd": "cat", "login": false, "yield_time_ms": 0}'
        )
        assert "Process running with session ID 0" in cat.content
        done = await handle_function_call(manager, "exec_command", '{"cmd": "true", "login": false}')
        assert "Process exited with code 0" in done.content

        fill = {"not_executable": not_executable, "path": os.environ.get("PATH", os.defpath)}
        arguments = arguments.replace("{not_executable}", json.dumps(not_executable)[1:-1])
        expected = expected.replace("{not_executable}", not_executable).replace("{path}", fill["path"])
        expected = expected.replace("{next}", "2")

        result = await handle_function_call(manager, tool, arguments)
        assert (result.content, result.success) == (expected, False)

        # Nothing else changed: the other session still runs and answers, and new calls work.
        assert [s.session_id for s in manager.list_sessions()] == [0]
        seen = ""
        chars = "ping\\n"
        while seen.count("ping") < 2:  # the terminal's echo, then cat's copy
            polled = await handle_function_call(
                manager, "write_stdin", f'{{"session_id": 0, "chars": "{chars}", "yield_time_ms": 100}}'
            )
            assert polled.success, polled.content
            seen += polled.content.split("Output:\n", 1)[1]
            chars = ""
        fresh = await handle_function_call(manager, "exec_command", '{"cmd": "echo ok", "login": false}')
        assert fresh.success and fresh.content.endswith("Output:\nok\r\n")


class _Unreadable(Mapping[str, object]):
    """Arguments from a Python caller whose mapping breaks when read (an SDK object gone wrong)."""

    def __getitem__(self, key: str) -> object:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("this mapping cannot be read")

    def __len__(self) -> int:
        return 1


# Arguments as Python objects (what MCP clients and adapters hand over), not JSON text.
OBJECT_CASES: list[tuple[object, object, str]] = [
    ("exec_command", 5, P + "invalid type: integer `5`, expected struct ExecCommandParams"),
    ("exec_command", [1], P + "invalid type: sequence, expected struct ExecCommandParams"),
    ("exec_command", b"{}", P + "invalid type: bytes (not JSON), expected struct ExecCommandParams"),
    ("write_stdin", {"session_id": 10**400, "chars": ""}, P + "session_id: number out of range"),
    (
        "write_stdin",
        {"session_id": 1e400, "chars": ""},
        P + "session_id: invalid type: floating point `Infinity.0`, expected u32",
    ),
    (
        "exec_command",
        {"\ud800": 1},
        P
        + "unknown field `\\ud800`, expected one of `cmd`, `yield_time_ms`, `max_output_tokens`, `shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, `view`",
    ),
    (
        "exec_command",
        {1: "x"},
        P
        + "unknown field `1`, expected one of `cmd`, `yield_time_ms`, `max_output_tokens`, `shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, `view`",
    ),
    (
        "exec_command",
        {"cmd": "x", "env": {"\ud800": "a"}},
        P + "env.\\ud800: invalid unicode code point: the string holds a lone surrogate",
    ),
    (
        "exec_command",
        {"cmd": "pwd", "workdir": "/tmp\0/etc"},
        P + "workdir: contains a NUL byte (at character 4); a path cannot hold one",
    ),
    (
        "shell",
        {"command": ["true"], "timeout_ms": 10**9},
        P + "timeout_ms: invalid value: integer `1000000000`, expected at most 600000 (10 minutes)",
    ),
    (5, "{}", "unsupported call: 5"),
    ("\udc80", "{}", "unsupported call: \\udc80"),
    ("exec_command", _Unreadable(), "internal error: RuntimeError: this mapping cannot be read"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), OBJECT_CASES, ids=range(len(OBJECT_CASES)))
async def test_any_python_value_is_a_tool_result(
    manager: SessionManager, tool: object, arguments: object, expected: str
) -> None:
    """handle_function_call never raises, whatever it is handed; its text can always be sent."""
    result = await handle_function_call(manager, tool, arguments)  # type: ignore[arg-type]
    assert (result.content, result.success, result.error) == (expected, False, True)
    result.content.encode()
    assert manager.list_sessions() == []
