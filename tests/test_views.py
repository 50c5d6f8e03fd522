"""Part 3: the ``text`` and ``screen`` views, their errors, and that ``raw`` stays the reference's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from helpers import sh
from streamshell import (
    Exited,
    Ongoing,
    SessionManager,
    WriteStdinParams,
    handle_function_call,
)
from streamshell._engine.screen import MAX_BACKLOG, TerminalScreen
from streamshell._engine.textview import render_text
from streamshell._engine.truncation import approx_token_count

LONG = 30_000

PROGRESS = textwrap.dedent(
    """
    import sys
    for i in range(2001):
        done = i * 50 // 2000
        sys.stdout.write("\\r\\033[K[" + "#" * done + " " * (50 - done) + "] %3d%%" % (i * 100 // 2000))
    sys.stdout.write("\\ndone\\n")
    """
)


async def test_a_progress_bar_becomes_its_final_frame(manager: SessionManager, tmp_path: Path) -> None:
    script = tmp_path / "progress.py"
    script.write_text(PROGRESS)
    raw = await manager.exec_command(sh(f"python3 {script}", yield_time_ms=LONG))
    text = await manager.exec_command(sh(f"python3 {script}", yield_time_ms=LONG, view="text"))
    assert raw.exit_status == text.exit_status == Exited(0)
    assert raw.original_token_count is not None and raw.original_token_count * 4 > 60_000  # cut at 40 KB
    final = "[" + "#" * 50 + "] 100%\ndone\n"
    assert (text.output, text.original_token_count) == (final, None)
    assert len(text.output.encode()) <= 250


async def test_text_removes_escapes_and_applies_backspaces(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh(
            "printf '\\033]0;title\\007\\033[1;31mred\\033[0m\\n"
            "abc\\b\\bXY\\ttab\\n50%%\\r100%%\\n\\033(B\\033[?25lno cursor'",
            view="text",
        )
    )
    assert out.output == "red\naXY\ttab\n100%\nno cursor"


async def test_text_truncation_counts_the_rendered_text(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh(
            "for i in $(seq 1 3000); do printf '\\033[32m%05d\\033[0m\\n' $i; done",
            view="text",
            max_output_tokens=100,
        )
    )
    rendered = "".join(f"{i:05d}\n" for i in range(1, 3001))
    assert out.original_token_count == approx_token_count(len(rendered))
    assert out.output.startswith("00001\n") and out.output.endswith("03000\n")
    assert "\x1b" not in out.output


CURSES_MENU = textwrap.dedent(
    """
    import curses

    def main(screen):
        items = ["apple", "banana", "cherry"]
        chosen = 0
        while True:
            screen.erase()
            screen.addstr(0, 0, "Pick a fruit (j/k to move, enter to choose):")
            for i, item in enumerate(items):
                screen.addstr(2 + i, 2, ("> " if i == chosen else "  ") + item)
            screen.refresh()
            key = screen.getch()
            if key == ord("j"):
                chosen = (chosen + 1) % len(items)
            elif key == ord("k"):
                chosen = (chosen - 1) % len(items)
            elif key in (10, 13):
                break
        return items[chosen]

    print("chose", curses.wrapper(main))
    """
)


async def test_a_curses_menu_is_readable_and_drivable_on_the_screen(
    manager: SessionManager, tmp_path: Path
) -> None:
    script = tmp_path / "menu.py"
    script.write_text(CURSES_MENU)
    first = await manager.exec_command(sh(f"python3 {script}", yield_time_ms=LONG, view="screen"))
    assert isinstance(first.exit_status, Ongoing) and first.waiting_for_input
    sid = first.exit_status.session_id
    assert first.output == (
        "[screen 24x80, cursor at row 5, column 11]\n"
        "Pick a fruit (j/k to move, enter to choose):\n"
        "\n"
        "  > apple\n"
        "    banana\n"
        "    cherry\n"
    )
    moved = await manager.write_stdin(WriteStdinParams(sid, "j", yield_time_ms=LONG, view="screen"))
    assert "  > banana\n" in moved.output and "  > apple" not in moved.output
    done = await manager.write_stdin(WriteStdinParams(sid, "\r", yield_time_ms=LONG, view="text"))
    assert done.exit_status == Exited(0) and done.output.endswith("chose banana\n")


async def test_less_on_the_screen_follows_resize(manager: SessionManager, tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("".join(f"line {i}\n" for i in range(1, 501)))
    out = await manager.exec_command(sh(f"less {numbers}", yield_time_ms=LONG, view="screen"))
    sid = out.session_id
    assert sid is not None
    header, *rows = out.output.splitlines()
    assert header.startswith("[screen 24x80, cursor at row 24")
    assert rows[:23] == [f"line {i}" for i in range(1, 24)]
    await manager.resize(sid, 10, 40)
    out = await manager.write_stdin(WriteStdinParams(sid, "", yield_time_ms=LONG, view="screen"))
    header, *rows = out.output.splitlines()
    assert header.startswith("[screen 10x40, cursor at row 10")
    assert rows[:9] == [f"line {i}" for i in range(1, 10)]
    out = await manager.write_stdin(WriteStdinParams(sid, "q", yield_time_ms=LONG))
    assert out.exit_status == Exited(0)


async def test_a_session_started_raw_can_ask_for_its_screen_later(manager: SessionManager) -> None:
    first = await manager.exec_command(sh("PS1='$ ' exec bash --norc --noprofile -i", yield_time_ms=LONG))
    sid = first.session_id
    assert sid is not None and first.waiting_for_input
    out = await manager.write_stdin(
        WriteStdinParams(sid, "printf 'a\\nb\\n'\n", yield_time_ms=LONG, view="screen")
    )
    header, *rows = out.output.splitlines()
    assert rows == ["printf 'a\\nb\\n'", "a", "b", "$"]  # the emulator starts with this call's output
    assert header == "[screen 24x80, cursor at row 4, column 3]"


async def test_screen_needs_a_terminal(manager: SessionManager) -> None:
    result = await handle_function_call(
        manager, "exec_command", json.dumps({"cmd": "echo hi", "tty": False, "view": "screen"})
    )
    assert (result.content, result.success) == (
        'failed to parse function arguments: view: "screen" needs a terminal, and tty is false: use "text" '
        '(or "raw")',
        False,
    )
    assert manager.list_sessions() == []
    started = await manager.exec_command(sh("cat", tty=False, yield_time_ms=LONG))
    sid = started.session_id
    result = await handle_function_call(
        manager, "write_stdin", json.dumps({"session_id": sid, "chars": "lost?\n", "view": "screen"})
    )
    assert (result.content, result.success) == (
        f'session id {sid} has no screen to show (it runs on pipes): use view "text"',
        False,
    )
    out = await manager.write_stdin(WriteStdinParams(sid, "kept\n", yield_time_ms=LONG, view="text"))
    assert out.output == "kept\n"  # nothing was written by the refused call


async def test_an_unknown_view_is_refused(manager: SessionManager) -> None:
    result = await handle_function_call(
        manager, "exec_command", json.dumps({"cmd": "echo hi", "view": "html"})
    )
    assert (result.content, result.success) == (
        "failed to parse function arguments: view: unknown variant `html`, expected one of `raw`, `text`, "
        "`screen` at line 1 column 33",
        False,
    )
    assert manager.list_sessions() == []


async def test_raw_is_the_default_and_unchanged(manager: SessionManager) -> None:
    out = await manager.exec_command(sh("printf '\\033[31mred\\033[0m\\r\\n50%%\\r100%%\\n'"))
    assert out.output == "\x1b[31mred\x1b[0m\r\r\n50%\r100%\r\n"  # the terminal adds a \r to each \n


def test_the_emulator_holds_the_screen_not_the_history() -> None:
    screen = TerminalScreen(24, 80)
    for i in range(100_000):
        screen.feed(b"%d\r\n" % i)
        assert len(screen._backlog) <= MAX_BACKLOG
    rows = screen.render().splitlines()
    assert rows[1:] == [str(i) for i in range(99_977, 100_000)]


def test_text_rendering_of_a_cut_line_and_wide_text() -> None:
    assert render_text("naïve\r\nend") == "naïve\nend"
    assert render_text("abc\x1b[2K\rX") == "X"
    assert render_text("\x1b[5Gx") == "    x"
