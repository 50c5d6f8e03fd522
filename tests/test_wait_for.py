"""Part 2: ``wait_for`` returns the moment the output matches; bad patterns are refused up front;
catastrophic ones are given up, not allowed to stall the server; nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import sh, start_and_wait_for_file
from streamshell import (
    ExecCommandParams,
    Exited,
    Ongoing,
    SessionManager,
    WriteStdinParams,
    handle_function_call,
)
from streamshell._engine.matching import LOOKBACK, OutputMatcher
from streamshell.params import compile_wait_for

LONG = 30_000


async def test_a_server_ready_line_ends_the_call(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh(
            "python3 -m http.server 0 --bind 127.0.0.1",
            yield_time_ms=LONG,
            wait_for=r"^Serving HTTP on .* port \d+",
        )
    )
    assert isinstance(out.exit_status, Ongoing) and out.matched
    assert out.wall_time < LONG / 1000
    assert out.output.startswith("Serving HTTP on 127.0.0.1 port ")


async def test_a_match_across_chunks_and_through_escape_sequences(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh(
            "printf 'build: do'; sleep 0.3; printf 'ne\\n\\033[32mrea\\033[1mdy\\033[0m\\n'; exec sleep 600",
            yield_time_ms=LONG,
            wait_for="done\\nready",
        )
    )
    assert out.matched and out.output == "build: done\r\n\x1b[32mrea\x1b[1mdy\x1b[0m\r\n"


async def test_the_exit_comes_first(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("echo nothing to see", yield_time_ms=LONG, wait_for="never"))
    assert (out.exit_status, out.matched, out.output) == (Exited(0), False, "nothing to see\r\n")


async def test_unread_output_counts_and_what_follows_the_match_stays(
    manager: SessionManager, tmp_path: Path
) -> None:
    cmd = "echo first; touch {flag}; read x; echo second; sleep 0.3; echo third; exec sleep 600"
    flag = tmp_path / "printed"
    sid = await start_and_wait_for_file(manager, cmd.format(flag=flag), flag)
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=LONG, wait_for="first"))
    assert out.matched and out.output == "first\r\n"
    out = await manager.write_stdin(WriteStdinParams(sid, "go\n", yield_time_ms=LONG, wait_for="^second"))
    assert out.matched and out.output.endswith("second\r\n")
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=LONG, wait_for="third"))
    assert out.matched and out.output == "third\r\n"


async def test_the_input_wait_comes_first(manager: SessionManager) -> None:
    """wait_for does not hold a call past the program's prompt: whichever comes first ends it."""
    out = await manager.exec_command(sh("read -p 'Continue? ' x", yield_time_ms=LONG, wait_for="never"))
    assert out.waiting_for_input and not out.matched and out.output == "Continue? "


async def test_a_bad_pattern_is_refused_and_starts_nothing(manager: SessionManager) -> None:
    result = await handle_function_call(
        manager, "exec_command", json.dumps({"cmd": "echo hi", "wait_for": "(unclosed"})
    )
    assert not result.success and result.error
    assert result.content.startswith(
        "failed to parse function arguments: wait_for: not a valid regular expression: missing )"
    )
    assert result.content.endswith("at position 9 at line 1 column 42")
    assert manager.list_sessions() == []
    started = await manager.exec_command(sh("true"))
    assert started.session_id == 0  # no id was used up


async def test_a_catastrophic_pattern_is_given_up_and_said_so(manager: SessionManager) -> None:
    text = "x" * 3000
    out = await manager.exec_command(
        sh(f"printf '{text}'; exec sleep 600", yield_time_ms=3_000, wait_for="(x+x+)+y", tty=False)
    )
    assert isinstance(out.exit_status, Ongoing)
    assert out.wait_for_abandoned and not out.matched
    assert out.output == text
    assert "Warning: wait_for was given up" in out.to_text_output()


def test_the_search_window_is_bounded() -> None:
    """Each search covers the new text and LOOKBACK characters before it, however long the output;
    a match that fits in that window is found wherever the chunks were cut."""
    matcher = OutputMatcher(compile_wait_for("needle"))
    for _ in range(1000):
        assert not matcher.feed(b"hay " * 1000)
        assert len(matcher._text) <= LOOKBACK + 1
    assert not matcher.feed(b"nee")
    assert matcher.feed(b"dle")


def test_line_anchors_match_lines_and_carriage_returns() -> None:
    matcher = OutputMatcher(compile_wait_for("^100%$"))
    assert not matcher.feed(b"progress 10%\r")
    assert matcher.feed(b"100%\r\n")


def test_the_reference_schema_does_not_carry_it() -> None:
    ExecCommandParams(cmd="x", wait_for="a|b")  # accepted from Python too
    from streamshell import responses_api_tools

    assert all("wait_for" not in t["parameters"]["properties"] for t in responses_api_tools())
