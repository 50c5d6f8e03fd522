"""The harness's call script (calls_main.json) through handle_function_call, compared with what the real
reference (Codex 0.29.0) returned for it, wall times normalised.

Every call is classified: equal to the reference, an intended difference (with our exact text and the
reason), or timing-dependent in the reference too (checked by what must hold whatever the timing).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from helpers import running_command, wait_until
from streamshell import SessionManager, handle_function_call

DATA = Path(__file__).parent / "data"
CALLS = json.loads((DATA / "calls_main.json").read_text())
RECORDED = json.loads((DATA / "codex-0.29.0-calls_main.json").read_text())

RUNNING = "Wall time: <t> seconds\nProcess running with session ID {}\nOutput:\n{}"
EXITED = "Wall time: <t> seconds\nProcess exited with code {}\nOutput:\n{}"
ENDED = "session id {} already exited with code {}; start a new one with exec_command"
P = "failed to parse function arguments: "

# index -> (our exact text after normalisation, why it differs from the reference)
INTENDED: dict[int, tuple[str, str]] = {
    6: (
        EXITED.format(0, "exit()\r\n"),
        "write_stdin reports the exit (the reference said 'running' forever)",
    ),
    7: (ENDED.format(2, 0), "an exited session is explained, not polled forever"),
    10: (EXITED.format(0, ""), "cat's exit after ^D is reported"),
    14: (P + 'session_id: invalid type: string "3", expected u32 at line 1 column 18', "the field is named"),
    18: (ENDED.format(0, 0), "session 0 exited long ago; the reference said it was running"),
    26: (EXITED.format(143, ""), "death by SIGTERM is 128+15 (the reference said 1)"),
    28: (EXITED.format(130, "^C"), "Ctrl-C's exit is reported with 128+SIGINT"),
    29: (ENDED.format(14, 130), "the interrupted session is gone and says so"),
    32: (
        P + "unknown field `unknown_field`, expected one of `cmd`, `yield_time_ms`, `max_output_tokens`, "
        "`shell`, `login`, `workdir`, `env`, `tty`, `wait_for`, `view` at line 1 column 33",
        "unknown fields are rejected, as the advertised additionalProperties: false says",
    ),
    34: (
        P + "yield_time_ms: invalid type: floating point `500.5`, expected u64 at line 1 column 40",
        "the field is named",
    ),
    37: (EXITED.format(0, "fast2\r\n"), "the reference lost this fast output (a start-up race)"),
    38: (EXITED.format(0, "fast3\r\n"), "the reference lost this fast output (a start-up race)"),
}

# Timing-dependent in the reference itself (what falls into which yield window), so compared by invariants.
TIMED = {2, 3, 4, 5, 16, 17}

# Calls that type into a program: in the reference run the model took long enough for the login shell
# to start the program first; here the test waits until it runs, whatever the machine's load.
READY = {3: "python3", 9: "cat", 28: "sleep"}


async def program_running(manager: SessionManager, session_id: int, name: str) -> None:
    pid = next(s.pid for s in manager.list_sessions() if s.session_id == session_id)
    await wait_until(lambda: running_command(pid, name), what=f"{name} to run")


def normalise(text: str, cwd: str) -> str:
    text = re.sub(r"^Wall time: \d+\.\d{3} seconds", "Wall time: <t> seconds", text)
    text = re.sub(r"/dev/pts/\d+", "/dev/pts/<n>", text)
    return text.replace(f"Output:\n{cwd}\r\n", "Output:\n<cwd>\r\n")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bool]]:
    """Our (normalised text, success) for every call, from one manager, as the reference ran them."""
    workdir = str(tmp_path_factory.mktemp("work"))

    async def run() -> list[tuple[str, bool]]:
        results = []
        # SHLVL and TERM as in the reference's run, so that `echo $SHLVL $TERM` compares.
        async with SessionManager(cwd=workdir, env={"SHLVL": "1", "TERM": "xterm"}) as manager:
            for i, call in enumerate(CALLS):
                args = call["arguments"]
                if call.get("delay_ms"):
                    await asyncio.sleep(call["delay_ms"] / 1000)  # the model's latency in the reference run
                if i in READY:
                    await program_running(manager, args["session_id"], READY[i])
                result = await handle_function_call(
                    manager, call["name"], args if isinstance(args, str) else json.dumps(args)
                )
                results.append((normalise(result.content, workdir), result.success))
        return results

    return asyncio.run(run())


def reference_text(i: int) -> str:
    return normalise(RECORDED[i]["output_text"], "/root")


@pytest.mark.parametrize("i", [i for i in range(len(CALLS)) if i not in INTENDED and i not in TIMED])
def test_same_as_the_reference(outputs: list[tuple[str, bool]], i: int) -> None:
    text, success = outputs[i]
    assert text == reference_text(i)
    assert success == text.startswith("Wall time:")


@pytest.mark.parametrize("i", sorted(INTENDED))
def test_intended_difference(outputs: list[tuple[str, bool]], i: int) -> None:
    expected, why = INTENDED[i]
    text, success = outputs[i]
    assert text == expected, why
    assert text != reference_text(i), f"no longer a difference: {why}"
    assert success == text.startswith("Wall time:")


def test_interactive_python_session(outputs: list[tuple[str, bool]]) -> None:
    texts = [outputs[i][0] for i in (2, 3, 4, 5)]
    assert all(t.startswith(RUNNING.format(2, "")) for t in texts)
    transcript = "".join(t.split("Output:\n", 1)[1] for t in texts)
    assert transcript.startswith(">>> ") or transcript.startswith("print(1+1)")
    assert "print(1+1)\r\n" in transcript and "2\r\n>>> " in transcript
    assert transcript.endswith("\r\nKeyboardInterrupt\r\n>>> ")


def test_background_ticks_are_all_delivered_and_the_exit_reported(outputs: list[tuple[str, bool]]) -> None:
    first, second = outputs[16][0], outputs[17][0]
    assert first.startswith(RUNNING.format(5, ""))
    assert second.startswith(EXITED.format(0, ""))
    ticks = first.split("Output:\n", 1)[1] + second.split("Output:\n", 1)[1]
    assert ticks == "".join(f"tick{i}\r\n" for i in range(1, 7))
    # The reference lost the ticks printed while the model was thinking.
    assert "tick1" not in reference_text(17)
