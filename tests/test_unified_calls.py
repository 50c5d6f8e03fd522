"""The unified profile against what current Codex (0.171.0, unified exec) returned for the same calls.

tests/data/calls_unified.json was run through the real Codex with the vendored fake model
(tests/data/codex-0.171.0-calls_unified.json holds its outputs). Here the same script runs through
``handle_function_call`` on ``SessionManager(profile="unified")``; chunk ids, wall times and session
ids (random in both) are normalised. Every call must come out equal, or be one of streamshell's
stated differences.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from fake_responses_server import call_id_for, fill_placeholders
from streamshell import SessionManager, handle_function_call
from streamshell.tools.formats import responses_api_tools

DATA = Path(__file__).parent / "data"
CALLS = json.loads((DATA / "calls_unified.json").read_text())
RECORDED = json.loads((DATA / "codex-0.171.0-calls_unified.json").read_text())
P = "failed to parse function arguments: "

INTENDED: dict[int, tuple[str, str]] = {
    20: (
        P + 'yield_time_ms: invalid type: string "5", expected u64 at line 1 column 39',
        "the field is named",
    ),
    21: (
        P + "unknown field `bogus`, expected one of `cmd`, `yield_time_ms`, `max_output_tokens`, `shell`, "
        "`login`, `workdir`, `env`, `tty`, `sandbox_permissions`, `justification`, `prefix_rule`, "
        "`wait_for`, `view` "
        "at line 1 column 26",
        "unknown fields are rejected, as the advertised additionalProperties: false says",
    ),
    33: (P + "max_output_tokens: invalid value: integer `-1`, expected usize at line 1 column 41", "named"),
    34: (P + 'tty: invalid type: string "yes", expected a boolean at line 1 column 30', "the field is named"),
}


def normalise(text: str) -> str:
    text = re.sub(
        r"^Chunk ID: [0-9a-f]{6}\nWall time: \d+\.\d{4} seconds", "Chunk ID: <c>\nWall time: <t>", text
    )
    text = re.sub(r"(session ID|process id) \d+", r"\1 <id>", text)
    return re.sub(r"/dev/pts/\d+", "/dev/pts/<n>", text)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    workdir = str(tmp_path_factory.mktemp("work"))

    async def run() -> list[str]:
        texts: dict[str, str] = {}
        async with SessionManager(profile="unified", cwd=workdir) as manager:
            for i, call in enumerate(CALLS):
                if call.get("delay_ms"):
                    await asyncio.sleep(call["delay_ms"] / 1000)  # the model's latency in the recorded run
                arguments = fill_placeholders(call["arguments"], texts)
                if isinstance(arguments, dict) and "Process exited" in RECORDED[i]["output_text"]:
                    # A call that ended with the exit waits for it however loaded the machine is: the
                    # exit ends the wait, so the text is the same as with the recorded yield.
                    arguments = {**arguments, "yield_time_ms": 30_000}
                arguments = arguments if isinstance(arguments, str) else json.dumps(arguments)
                texts[call_id_for(i)] = (await handle_function_call(manager, call["name"], arguments)).content
        return [texts[call_id_for(i)] for i in range(len(CALLS))]

    return asyncio.run(run())


@pytest.mark.parametrize("i", [i for i in range(len(CALLS)) if i not in INTENDED])
def test_same_as_current_codex(outputs: list[str], i: int) -> None:
    assert normalise(outputs[i]) == normalise(RECORDED[i]["output_text"]), CALLS[i].get("note")


@pytest.mark.parametrize("i", sorted(INTENDED))
def test_intended_difference(outputs: list[str], i: int) -> None:
    expected, why = INTENDED[i]
    assert outputs[i] == expected, why
    assert normalise(outputs[i]) != normalise(RECORDED[i]["output_text"]), f"no longer a difference: {why}"


def test_session_ids_are_random_five_digit_ids(outputs: list[str]) -> None:
    ids = {int(m) for text in outputs for m in re.findall(r"session ID (\d+)", text)}
    assert len(ids) == 5 and all(1000 <= i < 100_000 for i in ids)


def test_tool_definitions_are_current_codexs() -> None:
    recorded = json.loads((DATA / "codex-0.171.0-tools.json").read_text())
    ours = responses_api_tools(profile="unified")
    assert json.dumps(ours) == json.dumps(recorded)  # byte for byte, key order included


def test_the_agents_sdk_sandbox_shell_tool_has_the_same_text_and_rules() -> None:
    """The OpenAI Agents SDK implements the same unified exec in Python: its result text for the same
    values, its yield clamps and its session-id range are the profile's."""
    from agents.sandbox.capabilities.tools import shell_tool
    from agents.sandbox.session import pty_types

    from streamshell import ExecCommandOutput, Exited, Ongoing, Profile
    from streamshell.profiles import RULES

    for status, exit_code, process_id in ((Exited(3), 3, None), (Ongoing(48213), None, 48213)):
        ours = ExecCommandOutput(
            0.25071, status, None, "out\n", profile=Profile.UNIFIED, chunk_id="x", token_count=1
        )
        sdk = shell_tool._format_response(
            output="out\n",
            wall_time_seconds=0.25071,
            exit_code=exit_code,
            process_id=process_id,
            original_token_count=1,
        )
        assert re.sub(r"^Chunk ID: \w+", "Chunk ID: x", sdk) == ours.to_text_output()
    rules = RULES[Profile.UNIFIED]
    assert (rules.exec_yield.low, rules.exec_yield.high) == (
        pty_types.PTY_YIELD_TIME_MS_MIN,
        pty_types.PTY_YIELD_TIME_MS_MAX,
    )
    assert rules.poll_yield.low == pty_types.PTY_EMPTY_YIELD_TIME_MS_MIN
    assert rules.session_ids == range(pty_types.PTY_PROCESS_ID_MIN, pty_types.PTY_PROCESS_ID_MAX_EXCLUSIVE)
