"""Parameters: the reference's defaults, serde_json's messages, field names in type errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamshell import ExecCommandParams, InvalidArgumentsError, WriteStdinParams

DATA = Path(__file__).parent / "data"


def test_defaults_are_the_references() -> None:
    p = ExecCommandParams.from_json('{"cmd": "ls"}')
    assert (p.cmd, p.yield_time_ms, p.max_output_tokens, p.shell, p.login) == (
        "ls",
        10_000,
        10_000,
        "/bin/bash",
        True,
    )
    assert (p.workdir, p.env, p.tty) == (None, None, True)
    w = WriteStdinParams.from_json('{"session_id": 3, "chars": ""}')
    assert (w.session_id, w.chars, w.yield_time_ms, w.max_output_tokens) == (3, "", 250, 10_000)


def test_all_fields_parse() -> None:
    p = ExecCommandParams.from_json(
        json.dumps(
            {
                "cmd": "x",
                "yield_time_ms": 0,
                "max_output_tokens": 2**64 - 1,
                "shell": "sh",
                "login": False,
                "workdir": "/tmp",
                "env": {"A": "1"},
                "tty": False,
            }
        )
    )
    assert p == ExecCommandParams("x", 0, 2**64 - 1, "sh", False, "/tmp", {"A": "1"}, False)
    assert p.to_dict()["env"] == {"A": "1"}


def reference_errors() -> list[tuple[str, str, str]]:
    """(tool, arguments, text) of every parse error the reference produced in the recorded run."""
    recorded = json.loads((DATA / "codex-0.29.0-calls_main.json").read_text())
    out = []
    for r in recorded:
        if r["output_text"].startswith("failed to parse"):
            args = r["call"]["arguments"]
            out.append(
                (r["call"]["name"], args if isinstance(args, str) else json.dumps(args), r["output_text"])
            )
    return out


INTENDED = {
    # serde's text, with the field named in front (serde_path_to_error's form).
    '{"session_id": "3", "chars": ""}': (
        'session_id: invalid type: string "3", expected u32 at line 1 column 18'
    ),
    '{"cmd": "echo y", "yield_time_ms": 500.5}': (
        "yield_time_ms: invalid type: floating point `500.5`, expected u64 at line 1 column 40"
    ),
}


@pytest.mark.parametrize(("tool", "arguments", "text"), reference_errors())
def test_parse_errors_match_the_reference(tool: str, arguments: str, text: str) -> None:
    cls = ExecCommandParams if tool == "exec_command" else WriteStdinParams
    with pytest.raises(InvalidArgumentsError) as e:
        cls.from_json(arguments)
    expected = f"failed to parse function arguments: {INTENDED[arguments]}" if arguments in INTENDED else text
    assert str(e.value) == expected


def test_reference_observed_messages_for_negative_and_float_ids() -> None:
    # From codex-0.29.0-observed.md, with the field named.
    with pytest.raises(
        InvalidArgumentsError,
        match=r"^failed to parse function arguments: session_id: invalid "
        r"value: integer `-1`, expected u32 at line 1 column 17$",
    ):
        WriteStdinParams.from_json('{"session_id": -1, "chars": ""}')
    with pytest.raises(
        InvalidArgumentsError,
        match=r"session_id: invalid type: floating point `2\.0`, expected u32 "
        r"at line 1 column 18$",
    ):
        WriteStdinParams.from_json('{"session_id": 2.0, "chars": ""}')


def test_columns_count_bytes_like_serde() -> None:
    with pytest.raises(InvalidArgumentsError, match=r"column 25$"):
        ExecCommandParams.from_json('{"cmd": "éx", "login": 1}')


def test_multiline_positions() -> None:
    with pytest.raises(InvalidArgumentsError, match=r"login: .* at line 3 column 11$"):
        ExecCommandParams.from_json('{\n "cmd": "x",\n "login": 1\n}')


def test_python_construction_is_validated_too() -> None:
    with pytest.raises(
        InvalidArgumentsError, match="yield_time_ms: invalid value: integer `-5`, expected u64"
    ):
        ExecCommandParams(cmd="x", yield_time_ms=-5)
    with pytest.raises(InvalidArgumentsError, match="login: invalid type: integer `1`, expected a boolean"):
        ExecCommandParams(cmd="x", login=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentsError, match=r"env\.A: invalid type: integer `1`, expected a string"):
        ExecCommandParams(cmd="x", env={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentsError, match="session_id: invalid value: integer `4294967296`"):
        WriteStdinParams(session_id=2**32, chars="")
