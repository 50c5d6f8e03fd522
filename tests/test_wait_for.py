"""Part 2: ``wait_for`` returns the moment the output matches; bad patterns are refused up front;
catastrophic ones are given up, not allowed to stall the server; nothing is lost."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import LONG, sh, start_and_wait_for_file, wait_until
from streamshell import (
    ExecCommandParams,
    Exited,
    Ongoing,
    SessionManager,
    WriteStdinParams,
    handle_function_call,
)
from streamshell._engine import manager as manager_module
from streamshell._engine.matching import LOOKBACK, MATCH_SHARE, SEARCH_TIMEOUT, OutputMatcher
from streamshell._engine.session import Session
from streamshell.params import compile_wait_for


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


async def test_wait_for_takes_precedence_over_input_waits(manager: SessionManager, tmp_path: Path) -> None:
    """A dev server that reads keys from its terminal while it starts (vite, jest --watch) waits for
    input long before its ready line: with wait_for, the call returns at the match (or exit, or
    the yield), not at the input wait."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    cmd = f"(cat {fifo} >/dev/null; echo READY on :5173) & read x"
    call = asyncio.ensure_future(manager.exec_command(sh(cmd, yield_time_ms=LONG, wait_for="READY")))
    await wait_until(lambda: manager.list_sessions() != [], what="the session to start")
    sid = manager.list_sessions()[0].session_id
    await wait_until(lambda: manager.session_info(sid).waiting_for_input, what="read to wait for input")
    finished, _ = await asyncio.wait({call}, timeout=1.0)  # time for an input-wait return to show
    assert not finished, call.result()
    await asyncio.to_thread(fifo.write_text, "go\n")
    out = await call
    assert out.matched and not out.waiting_for_input and out.output.endswith("READY on :5173\r\n")
    await manager.kill_session(sid)


async def test_a_pattern_given_up_leaves_the_input_wait_to_end_the_call(manager: SessionManager) -> None:
    text = "x" * 3000
    out = await manager.exec_command(sh(f"printf '{text}'; read x", yield_time_ms=LONG, wait_for="(x+x+)+y"))
    assert out.wait_for_abandoned and out.waiting_for_input and not out.matched
    assert out.output == text


class TimedPattern:
    """A compiled pattern whose searches are timed (when, with what timeout, how long)."""

    def __init__(self, pattern: Any) -> None:
        self._pattern = pattern
        self.pattern = pattern.pattern
        self.searches: list[tuple[float, float, float]] = []

    def search(self, text: str, pos: int, *, timeout: float) -> Any:
        started = time.monotonic()
        try:
            return self._pattern.search(text, pos, timeout=timeout)
        finally:
            self.searches.append((started, timeout, time.monotonic() - started))


HOG = (
    "import sys,time\n"
    "for i in range(400):\n    sys.stdout.write('word '*20); sys.stdout.flush(); time.sleep(0.02)\n"
)


async def test_matching_takes_a_bounded_share_of_the_call(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pattern that is slow on this output (quadratic, just under the time limit per chunk) must
    not hold the event loop for the call: searches run at most once per reader wakeup, take at
    most MATCH_SHARE of the call's time after a first SEARCH_TIMEOUT, and never run past its
    deadline."""
    timed: list[TimedPattern] = []

    def compile_timed(pattern: str) -> TimedPattern:
        timed.append(TimedPattern(compile_wait_for(pattern)))
        return timed[-1]

    wakeups = 0
    on_readable = Session._on_readable

    def counted(self: Session) -> None:
        nonlocal wakeups
        wakeups += 1
        on_readable(self)

    monkeypatch.setattr(manager_module, "compile_wait_for", compile_timed)
    monkeypatch.setattr(Session, "_on_readable", counted)
    started = time.monotonic()
    out = await manager.exec_command(
        sh(f'python3 -c "{HOG}"', tty=False, wait_for=r"(?:word )+\d", yield_time_ms=3_000)
    )
    returned = time.monotonic()
    assert isinstance(out.exit_status, Ongoing) and not out.matched
    [pattern] = timed
    spent = 0.0
    for at, _, duration in pattern.searches:
        # Each search starts only while what the searches before it took is within the share.
        assert spent <= SEARCH_TIMEOUT + MATCH_SHARE * (at - started), (spent, at - started, pattern.searches)
        spent += duration
    assert len(pattern.searches) <= wakeups + 1  # once per wakeup (and once for unread output)
    assert all(started + timeout <= returned for started, timeout, _ in pattern.searches)
    assert out.session_id is not None
    await manager.kill_session(out.session_id)


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

    def feed(data: bytes) -> bool:
        matcher.add(data)
        return matcher.search(SEARCH_TIMEOUT)

    for _ in range(1000):
        assert not feed(b"hay " * 1000)
        assert len(matcher._text) <= LOOKBACK + 1
    assert not feed(b"nee")
    assert feed(b"dle")


def test_line_anchors_match_lines_and_carriage_returns() -> None:
    matcher = OutputMatcher(compile_wait_for("^100%$"))
    matcher.add(b"progress 10%\r")
    assert not matcher.search(SEARCH_TIMEOUT)
    matcher.add(b"100%\r\n")
    assert matcher.search(SEARCH_TIMEOUT)


def test_the_reference_schema_does_not_carry_it() -> None:
    ExecCommandParams(cmd="x", wait_for="a|b")  # accepted from Python too
    from streamshell import responses_api_tools

    assert all("wait_for" not in t["parameters"]["properties"] for t in responses_api_tools())
