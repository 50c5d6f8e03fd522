"""Watching a session (what the page and ``streamshell attach`` read): its screen first, drawn so a
terminal shows it as the session's emulator does; then output, resizes and the exit as they come;
typing into it as a person; the sessions that ended. Watching takes nothing from the calls."""

from __future__ import annotations

import asyncio
import time

import pyte
import pytest

from helpers import read_until, sh, start, start_until, watched_until
from streamshell import Exited, SessionManager, WriteStdinParams
from streamshell._engine import watch as watch_module
from streamshell._engine.screen import RecentOutput, TerminalScreen
from streamshell._engine.watch import OutputText, Resized, ScreenShot, SessionExit, WatchEvent

COLOURFUL = (
    b"\x1b[1;31mbold red\x1b[0m plain \x1b[4;38;5;33munderlined 256\x1b[0m "
    b"\x1b[7;48;2;10;200;30mreverse true-colour\x1b[0m\r\n"
    b"wide: \xe4\xb8\xad\xe6\x96\x87 end\r\n\x1b[3;5Hthere\x1b[?25l"
)


def drawn(rows: int, cols: int, text: str) -> pyte.Screen:
    screen = pyte.Screen(cols, rows)
    pyte.Stream(screen).feed(text)
    return screen


def test_a_screen_is_drawn_as_the_emulator_holds_it() -> None:
    """Characters, colours (16, 256, true colour), attributes, wide characters, the cursor and its
    visibility all survive the trip through escape sequences."""
    source = TerminalScreen(24, 80)
    source.feed(COLOURFUL)
    source.render()  # the emulator catches up
    original = source._screen
    copy = drawn(24, 80, source.ansi())
    assert copy.display == original.display
    for y in range(24):
        for x in range(80):
            assert copy.buffer[y][x] == original.buffer[y][x], (y, x)
    cursor = (original.cursor.x, original.cursor.y, original.cursor.hidden)
    assert cursor == (9, 2, True)  # after "there", written at row 3, column 5; hidden
    assert (copy.cursor.x, copy.cursor.y, copy.cursor.hidden) == cursor


def test_the_first_screen_comes_from_the_newest_output() -> None:
    """Older output than the emulator's backlog is skipped from a line start, as the screen view does."""
    recent = RecentOutput(limit=4096)
    for i in range(2000):
        recent.append(b"line %d\r\n" % i)
    screen = drawn(24, 80, recent.screen(24, 80).ansi())
    assert screen.display[-2].rstrip() == "line 1999"
    assert all(row.startswith("line ") for row in screen.display[:-1])


async def next_event(events: watch_module.Watch, timeout: float = 30.0) -> WatchEvent:
    return await asyncio.wait_for(events.__anext__(), timeout)


async def test_a_watcher_sees_the_screen_then_the_session_as_it_goes(manager: SessionManager) -> None:
    sid, _ = await start_until(manager, "printf '\\033[32mgreen\\033[0m\\n'; exec cat", "green")
    async with manager.watch(sid) as events:
        first = await next_event(events)
        assert isinstance(first, ScreenShot) and (first.rows, first.cols) == (24, 80)
        assert drawn(24, 80, first.text).display[0].rstrip() == "green"
        await manager.send_input(sid, "typed\n")
        await watched_until(events, "typed\r\ntyped\r\n")
        await manager.resize(sid, 30, 100)
        assert await next_event(events) == Resized(30, 100)
        # The calls still get all of it: watching takes nothing.
        assert "typed\r\ntyped\r\n" in await read_until(manager, sid, "typed\r\ntyped\r\n")
        await manager.send_input(sid, "\x04")  # cat ends at end of file
        while not isinstance(event := await next_event(events), SessionExit):
            assert isinstance(event, OutputText)
        assert event == SessionExit(0)
        out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=30_000))
        assert out.exit_status == Exited(0)
        with pytest.raises(StopAsyncIteration):  # retired and closed: the watch ends
            await next_event(events)


async def test_a_slow_watcher_gets_a_fresh_screen_instead_of_a_backlog(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "MAX_PENDING", 10_000)
    sid = await start(manager, "read x; seq 5000; read y")
    events = manager.watch(sid)
    assert isinstance(await next_event(events), ScreenShot)
    await manager.send_input(sid, "go\n")
    await read_until(manager, sid, "\r\n5000\r\n")  # 24 kB: more than the watcher may have pending
    event = await next_event(events)
    assert isinstance(event, ScreenShot)  # what piled up was thrown away
    assert [row.rstrip() for row in drawn(24, 80, event.text).display[-3:]] == ["4999", "5000", ""]
    await manager.send_input(sid, "end\n")
    text = ""
    while "end\r\n" not in text:  # then it goes on from there, nothing repeated
        event = await next_event(events)
        assert isinstance(event, OutputText | SessionExit)
        text += event.text if isinstance(event, OutputText) else ""
    assert text == "end\r\n"
    await events.aclose()


async def test_a_session_that_exited_unwatched_shows_its_exit_to_a_new_watcher(
    manager: SessionManager,
) -> None:
    sid = await start(manager, "echo done")
    start_time = time.monotonic()
    while manager.session_info(sid).exit_code is None:
        assert time.monotonic() - start_time < 60
        await asyncio.sleep(0.01)
    async with manager.watch(sid) as events:
        first = await next_event(events)
        assert isinstance(first, ScreenShot) and "done" in drawn(24, 80, first.text).display[0]
        assert await next_event(events) == SessionExit(0)


async def test_typing_as_a_person_uses_write_stdins_input_path(manager: SessionManager) -> None:
    """``send_input`` queues input as write_stdin does (Ctrl-C interrupts), and leaves the output
    for the next call; its errors are the calls' own."""
    sid, _ = await start_until(manager, "python3 -q -i", ">>> ")
    await manager.send_input(sid, "6*7\n")
    assert "42" in await read_until(manager, sid, "42\r\n>>> ")
    await manager.send_input(sid, "import time; time.sleep(60)\n")
    await read_until(manager, sid, "time.sleep(60)\r\n")
    await manager.send_input(sid, "\x03")
    assert "KeyboardInterrupt" in await read_until(manager, sid, "KeyboardInterrupt")
    with pytest.raises(Exception, match="unknown session id 99"):
        await manager.send_input(99, "x")
    await manager.kill_session(sid)
    with pytest.raises(Exception, match=r"session id \d+ was killed"):
        await manager.send_input(sid, "x")


async def test_the_ended_sessions_are_remembered_with_their_exit_codes(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("exit 3", yield_time_ms=30_000))
    assert out.exit_status == Exited(3)
    sid = await start(manager, "sleep 60")
    await manager.kill_session(sid)
    first, second = manager.ended_sessions()
    assert (first.command, first.exit_code) == ("exit 3", 3)
    assert second.command == "sleep 60" and second.exit_code is not None and second.exit_code > 128
    assert manager.list_sessions() == []
