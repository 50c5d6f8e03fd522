"""The one-shot `shell` tool, against what Codex 0.29.0 returned for the same calls.

`data/calls_shell.json` was run through the reference harness with the real Codex 0.29.0
(`run_harness.py --extra-arg=-c --extra-arg=experimental_use_exec_command_tool=false`, so
Codex advertised and ran its `shell` tool); `data/codex-0.29.0-calls_shell.json` holds
what Codex sent back. Durations are normalised; every other difference is listed with
its reason.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from streamshell import SessionManager, handle_function_call, truncate_middle
from streamshell.params import ShellToolCallParams
from streamshell.tools.shell import MAX_OUTPUT_BYTES, run_shell

DATA = Path(__file__).parent / "data"
CALLS = json.loads((DATA / "calls_shell.json").read_text())
RECORDED = json.loads((DATA / "codex-0.29.0-calls_shell.json").read_text())
P = "failed to parse function arguments: "


def result(output: str, code: int) -> str:
    return json.dumps(
        {"output": output, "metadata": {"exit_code": code, "duration_seconds": "<d>"}},
        ensure_ascii=False,
        separators=(",", ":"),
    )


# index -> (our exact text after normalisation, why it differs from the reference)
INTENDED: dict[int, tuple[str, str]] = {
    2: (
        result("command timed out after 300 milliseconds\n", 124),
        "a timeout is reported with the output so far and exit code 124, not as a bare error",
    ),
    8: (
        result("command timed out after 10000 milliseconds\nbefore\n", 124),
        "the default 10 s timeout, reported with the output printed before it",
    ),
    9: (result("x\n", 143), "death by SIGTERM is 128+15, with the output (the reference gave only an error)"),
    12: (
        P + 'command: invalid type: string "ls", expected a sequence at line 1 column 16',
        "the field is named",
    ),
    13: (
        P + "unknown field `bogus`, expected one of `command`, `workdir`, `timeout_ms`, "
        "`with_escalated_permissions`, `justification` at line 1 column 29",
        "unknown fields are rejected, as the advertised additionalProperties: false says",
    ),
    14: (
        "execution error: working directory /nonexistent-dir does not exist",
        "the error says which directory and what is wrong with it",
    ),
}

# The reference cut long output by lines ("[... omitted N of M lines ...]"); streamshell uses the
# same middle truncation as exec_command, to the same 10 KiB budget.
TRUNCATED = {1: "".join(f"{i}\n" for i in range(1, 100_001)), 15: "y" * 20_000 + "\n"}

# The reference ran argv[0] with execvp; streamshell runs it with `exec` in /bin/sh, whose error
# text for a missing program is the shell's.
MISSING_PROGRAM = 3


def normalise(text: str) -> str:
    return re.sub(r'"duration_seconds":\d+\.\d+\}', '"duration_seconds":"<d>"}', text)


@pytest.fixture(scope="module")
def outputs() -> list[tuple[str, bool]]:
    """Our (normalised text, success) for every call, from one manager, as the reference ran them."""

    async def run() -> list[tuple[str, bool]]:
        results = []
        async with SessionManager(env={"TERM": "xterm"}) as manager:
            for call in CALLS:
                args = call["arguments"]
                arguments = args if isinstance(args, str) else json.dumps(args)
                out = await handle_function_call(manager, call["name"], arguments)
                results.append((normalise(out.content), out.success))
        return results

    return asyncio.run(run())


def reference_text(i: int) -> str:
    return normalise(RECORDED[i]["output_text"])


SAME = [i for i in range(len(CALLS)) if i not in INTENDED and i not in TRUNCATED and i != MISSING_PROGRAM]


@pytest.mark.parametrize("i", SAME)
def test_same_as_the_reference(outputs: list[tuple[str, bool]], i: int) -> None:
    text, success = outputs[i]
    assert text == reference_text(i)
    assert success == ('"exit_code":0,' in text)


@pytest.mark.parametrize("i", sorted(INTENDED))
def test_intended_difference(outputs: list[tuple[str, bool]], i: int) -> None:
    expected, why = INTENDED[i]
    text, success = outputs[i]
    assert text == expected, why
    assert text != reference_text(i), f"no longer a difference: {why}"
    assert not success


@pytest.mark.parametrize("i", sorted(TRUNCATED))
def test_long_output_is_cut_in_the_middle_to_10_kib(outputs: list[tuple[str, bool]], i: int) -> None:
    text, success = outputs[i]
    body = json.loads(text)
    assert body["output"] == truncate_middle(TRUNCATED[i], MAX_OUTPUT_BYTES)[0]
    assert body["metadata"]["exit_code"] == 0 and success
    assert "tokens truncated" in body["output"]


def test_a_missing_program_is_exit_code_127(outputs: list[tuple[str, bool]]) -> None:
    body = json.loads(outputs[MISSING_PROGRAM][0])
    assert body["metadata"]["exit_code"] == 127
    assert "/nonexistent/prog" in body["output"]


async def test_output_streams_live_and_waits_past_the_managers_yield_cap() -> None:
    seen: list[str] = []
    async with SessionManager(max_yield_time_ms=50) as manager:
        out = await run_shell(
            manager,
            ShellToolCallParams(("sh", "-c", "echo one; sleep 0.3; echo two"), timeout_ms=60_000),
            on_output=seen.append,
        )
    assert (out.exit_code, out.output) == (0, "one\ntwo\n")
    assert "".join(seen) == "one\ntwo\n"


async def test_a_timed_out_command_is_killed_with_its_output_kept() -> None:
    async with SessionManager() as manager:
        out = await run_shell(
            manager, ShellToolCallParams(("sh", "-c", "echo started; exec sleep 60"), timeout_ms=2000)
        )
        assert manager.list_sessions() == []
    assert out.exit_code == 124
    assert out.output == "command timed out after 2000 milliseconds\nstarted\n"


async def test_stdin_is_empty_and_workdir_is_relative_to_the_managers(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    async with SessionManager(cwd=str(tmp_path)) as manager:
        out = await run_shell(manager, ShellToolCallParams(("sh", "-c", "cat; pwd"), workdir="sub"))
    assert out.output == f"{tmp_path}/sub\n"


async def test_arguments_are_passed_verbatim() -> None:
    argv = ("printf", "%s|", "a b", "$HOME", "'quoted'", "*", "")
    async with SessionManager() as manager:
        out = await run_shell(manager, ShellToolCallParams(argv))
    assert out.output == "a b|$HOME|'quoted'|*||"
