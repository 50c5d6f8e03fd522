"""Part 3: the ``text`` and ``screen`` views, their errors, and that ``raw`` stays the reference's."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import LONG, body, sh
from streamshell import (
    Exited,
    Ongoing,
    SessionManager,
    WriteStdinParams,
    handle_function_call,
)
from streamshell._engine import views
from streamshell._engine.screen import MAX_BACKLOG, TerminalScreen
from streamshell._engine.textview import TextRenderer, render_text
from streamshell._engine.truncation import approx_token_count

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


# ----- text view: a terminal's bounds, linear work, wide characters, and no lost output -------------


async def test_a_huge_cursor_column_stops_at_the_last_column(manager: SessionManager) -> None:
    """A terminal clamps cursor moves to its width; so does the text view (no cells allocated up to
    the column asked for), and a number too large for any terminal is no error."""
    out = await manager.exec_command(
        sh(
            "printf 'a\\033[20000000Gb\\nc\\033[99999999999999Gd\\ne\\033[20000000Cf\\n"
            "%080d\\033[200G!\\033[1000000Dg\\n' 0",
            yield_time_ms=LONG,
            view="text",
        )
    )
    assert out.exit_status == Exited(0) and out.original_token_count is None
    spaces = " " * 78
    assert out.output == f"a{spaces}b\nc{spaces}d\ne{spaces}f\ng{'0' * 79}!\n"


async def test_the_text_view_follows_the_terminal_width(manager: SessionManager) -> None:
    sid = (await manager.exec_command(sh("cat", yield_time_ms=LONG))).session_id
    assert sid is not None
    await manager.resize(sid, 24, 20)
    out = await manager.write_stdin(
        WriteStdinParams(sid, "x\x16\x1b[99Gy\n", yield_time_ms=LONG, view="text")  # ^V: type ESC literally
    )
    assert out.output.endswith("x" + " " * 18 + "y\n")


async def test_wide_characters_take_two_cells(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh(
            "printf '日本語\\rab\\n日本語\\ra\\nx日y\\rab\\n日\\033[2G\\033[K|\\n'",
            view="text",
            yield_time_ms=LONG,
        )
    )
    # Overwriting half of a wide character blanks the other half, as terminals do.
    assert out.output == "ab本語\na 本語\nab y\n |\n"


async def test_a_view_that_cannot_be_drawn_falls_back_to_the_raw_output(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong drawing a view (here: memory runs out), the call returns its output raw,
    says so, and its session is usable."""

    def out_of_memory(*args: object) -> str:
        raise MemoryError

    monkeypatch.setattr(views, "render_text", out_of_memory)
    monkeypatch.setattr(TerminalScreen, "render", lambda self: out_of_memory())
    for view in ("text", "screen"):
        result = await handle_function_call(
            manager,
            "exec_command",
            json.dumps(
                {"cmd": "echo important; read x", "login": False, "view": view, "yield_time_ms": LONG}
            ),
        )
        assert result.success and isinstance(result.exit_status, Ongoing), result
        header, output = result.content.split("\nOutput:\n")
        assert header.endswith(f'\nWarning: view "{view}" failed (MemoryError); the output is shown raw')
        assert output == "important\r\n"
        done = await manager.write_stdin(
            WriteStdinParams(result.exit_status.session_id, "\n", yield_time_ms=LONG)
        )
        assert done.exit_status == Exited(0)


# Each adversarial line costs O(n^2) cell writes to a renderer that rewrites the cells an erase
# covers; the work allowed is linear in the text (plus the padding a cursor move may need, up to
# the last column, once per line).
N = 20_000
ADVERSARIAL = {
    "erase whole line": "x" * N + "\x1b[2K" * N,
    "erase to the cursor": "x" * N + "\x1b[1K" * N,
    "write, go right, erase to the cursor": "x" * N + "\r.\x1b[99999G\x1b[1K" * N,
    "erase to the end, go right, write": "\r\x1b[K\x1b[80G." * N,
    "backspace and overwrite wide": "日" * N + "\bx" * N,
    "cursor far right, write": "\x1b[99999999Gx" * N,
}


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_text_rendering_work_is_linear(case: str) -> None:
    text = ADVERSARIAL[case]
    renderer = TextRenderer(80)
    renderer.render(text)
    assert renderer.cells_touched <= 4 * len(text) + 80, (case, renderer.cells_touched, len(text))


def _naive_render(line: str, width: int) -> str:
    """The obvious column model, cell by cell (quadratic), for comparison: one line, no escapes
    other than the line-editing ones, ASCII."""
    cells: list[str] = []
    col = 0
    for m in re.finditer(r"\x1b\[(\d*)([KGCD])|\r|\x08|[^\x1b\r\x08]", line):
        token = m.group(0)
        if token == "\r":
            col = 0
        elif token == "\b":
            col = max(0, col - 1)
        elif m.group(2):
            n = int(m.group(1) or 0)
            final = m.group(2)
            limit = max(width - 1, len(cells))
            if final == "K":
                if n == 0:
                    cells[col:] = " " * len(cells[col:])
                elif n == 1:
                    cells[: col + 1] = " " * len(cells[: col + 1])
                elif n == 2:
                    cells[:] = " " * len(cells)
            elif final == "G":
                col = min(max(n, 1) - 1, limit)
            elif final == "C":
                col = min(col + max(n, 1), limit)
            else:
                col = max(0, col - max(n, 1))
        else:
            cells.extend(" " * (col + 1 - len(cells)))
            cells[col] = token
            col += 1
    return "".join(cells).rstrip(" ")


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "a",
                "b",
                "c",
                "\r",
                "\b",
                "\x1b[K",
                "\x1b[1K",
                "\x1b[2K",
                "\x1b[3G",
                "\x1b[12G",
                "\x1b[2C",
                "\x1b[D",
                "\x1b[5D",
                "\x1b[99G",
            ]
        ),
        max_size=40,
    )
)
def test_text_rendering_matches_the_cell_by_cell_model(tokens: list[str]) -> None:
    line = "".join(tokens)
    assert render_text(line, 10) == _naive_render(line, 10)


async def test_the_text_token_count_counts_a_dropped_middle_as_written(manager: SessionManager) -> None:
    """Output larger than the session keeps: the kept head and tail are rendered, the middle (never
    kept, so never rendered) counts as the bytes written; the text reads as the raw view's does."""
    out = await manager.exec_command(
        sh("seq 1 1000000", view="text", yield_time_ms=LONG, max_output_tokens=100)
    )
    raw_bytes = sum(len(str(i)) + 2 for i in range(1, 1_000_001))  # "N\r\n" through the terminal
    assert out.exit_status == Exited(0) and out.original_token_count is not None
    rendered_bytes = raw_bytes - 1_000_000  # "\r\n" -> "\n"
    assert approx_token_count(rendered_bytes) <= out.original_token_count <= approx_token_count(raw_bytes)
    assert out.output.startswith("1\n2\n3\n") and out.output.endswith("\n999999\n1000000\n")
    assert "tokens truncated…\n" in out.output and "bytes dropped" not in out.output


# ----- screen view: malformed sequences, the alternate screen -----------------------------------------

MALFORMED = ("\\033[1;2A", "\\033[5J", "\\033[4K", "\\033[1;2P", "\\033[2;3X", "\\033[²A", "\\n日\\ra\\n")


@pytest.mark.parametrize("sequence", MALFORMED)
async def test_a_malformed_sequence_is_ignored_on_the_screen(manager: SessionManager, sequence: str) -> None:
    """pyte raises on these; a terminal ignores them, and so does the screen view: the call answers,
    its session is known and usable, and its screen goes on."""
    result = await handle_function_call(
        manager,
        "exec_command",
        json.dumps(
            {
                "cmd": f"printf 'before {sequence} after'; read x",
                "login": False,
                "view": "screen",
                "yield_time_ms": LONG,
            }
        ),
    )
    assert result.success and isinstance(result.exit_status, Ongoing), result.content
    sid = result.exit_status.session_id
    assert [s.session_id for s in manager.list_sessions()] == [sid]
    drawn = body(result.content)  # the screen, not the raw fallback
    assert drawn.startswith("[screen 24x80") and "before" in drawn and "after" in drawn, result.content
    out = await manager.write_stdin(WriteStdinParams(sid, "more\n", yield_time_ms=LONG, view="screen"))
    assert out.exit_status == Exited(0) and out.view_fallback is None and "more" in out.output


async def test_leaving_the_alternate_screen_shows_the_main_screen_again(manager: SessionManager) -> None:
    """As xterm does: ?1049 (with the cursor), ?47 and ?1047 switch to a blank alternate screen and
    back to the main screen as it was."""
    cmd = (
        "printf 'line before\\n'; printf '\\033[?1049h\\033[2J\\033[HFULL SCREEN APP'; printf '\\033[?1049l';"
        " printf 'prompt> '; read x"
    )
    out = await manager.exec_command(sh(cmd, view="screen", yield_time_ms=LONG))
    assert out.output == "[screen 24x80, cursor at row 2, column 9]\nline before\nprompt>\n"
    await manager.write_stdin(WriteStdinParams(out.exit_status.session_id, "\n", yield_time_ms=LONG))  # type: ignore[union-attr]
    for mode in ("47", "1047"):
        out = await manager.exec_command(
            sh(
                f"printf 'main\\n\\033[?{mode}hAPP\\033[?{mode}l\\r\\nback'; read x",
                view="screen",
                yield_time_ms=LONG,
            )
        )
        assert out.output.splitlines()[1:] == ["main", "", "back"], out.output  # the cursor stays (row 2)
        await manager.write_stdin(WriteStdinParams(out.exit_status.session_id, "\n", yield_time_ms=LONG))  # type: ignore[union-attr]


async def test_quitting_less_shows_the_shell_screen_again(manager: SessionManager) -> None:
    out = await manager.exec_command(
        sh("seq 1 5; seq 1 200 | less; echo back-in-shell; read x", view="screen", yield_time_ms=LONG)
    )
    sid = out.session_id
    assert sid is not None and out.output.splitlines()[1:4] == ["1", "2", "3"]
    assert "back-in-shell" not in out.output
    out = await manager.write_stdin(WriteStdinParams(sid, "q", yield_time_ms=LONG, view="screen"))
    assert out.output.splitlines()[1:] == ["1", "2", "3", "4", "5", "back-in-shell"]
    done = await manager.write_stdin(WriteStdinParams(sid, "\n", yield_time_ms=LONG))
    assert done.exit_status == Exited(0)
