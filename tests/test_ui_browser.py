"""The page at /ui in a real browser: Debian's headless Chromium driven by Playwright.

Sessions started over MCP appear in the list; a live one's output appears in xterm.js as it comes;
what a person types reaches a REPL with ``--ui-input`` and goes nowhere without it (the server
refuses it too); the kill button ends a session, which then replays from its cast in
asciinema-player. The login cookie is HttpOnly and SameSite=Strict, and the token is in no URL,
no page and no log. The second test saves the screenshot the README shows: set
``STREAMSHELL_UI_SCREENSHOT=docs/ui.png`` to write it there (else it goes to the test's tmp_path).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser import Browser
from helpers import body, call_tool, mcp_read_until
from test_mcp_http import RunningServer, connect, start_server, stop

pytestmark = pytest.mark.xdist_group("browser")  # one Chromium for the module's tests

SCREENSHOT_ENV = "STREAMSHELL_UI_SCREENSHOT"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser()
    yield chromium
    chromium.close()


@pytest.fixture
def casts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path / "streamshell" / "casts"


def log_in(browser: Browser, server: RunningServer) -> None:
    browser.new_page()
    browser.call("goto", url=server.url.replace("/mcp", "/ui"))
    browser.call("waitFor", selector="#token")
    browser.call("fill", selector="#token", text="not the token")
    browser.call("click", selector="#login-form button")
    browser.call("waitForText", selector="#login-error", text="Wrong token.")
    browser.call("fill", selector="#token", text=server.token)
    browser.call("click", selector="#login-form button")
    browser.call("waitFor", selector="#app")


def open_session(browser: Browser, key: str, expect: str) -> None:
    row = f'#sessions tbody tr[data-key="{key}"]'
    browser.call("waitFor", selector=row)
    browser.call("click", selector=row)
    browser.call("waitForText", selector="#screen", text=expect)


async def test_the_page_shows_sessions_live_and_read_only(casts: Path, browser: Browser) -> None:
    server = start_server()
    try:
        async with connect(server) as client:
            text, _ = await call_tool(client, "exec_command", {"cmd": "python3 -q -i", "login": False})
            assert ">>> " in await mcp_read_until(client, 0, ">>> ", seen=body(text))
            log_in(browser, server)
            assert browser.call("text", selector="#mode") == "read-only"
            [cookie] = browser.call("cookies")
            assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
                "streamshell_ui",
                True,
                "Strict",
                "/ui",
            )
            assert cookie["value"] != server.token
            assert browser.call("evaluate", expression="document.cookie") == ""  # scripts cannot read it
            open_session(browser, "1:0", ">>>")
            assert "read-only" in browser.call("text", selector="#viewer-note")
            await call_tool(client, "write_stdin", {"session_id": 0, "chars": "print('live ' + 'output')\n"})
            browser.call("waitForText", selector="#screen", text="live output")
            browser.call("click", selector="#screen")
            browser.call("type", text="6*7\n")  # typed into a read-only terminal: sent nowhere
            status = browser.call(
                "evaluate",
                expression="""fetch("/ui/api/sessions/1/0/input", {method: "POST",
                    headers: {"Content-Type": "application/json"}, body: JSON.stringify({data: "6*7\\n"})})
                    .then((r) => r.status)""",
            )
            assert status == 403  # and the server refuses a page that tries
            seen = await mcp_read_until(client, 0, "after", chars="print('after')\n")
            assert "42" not in seen and "6*7" not in seen
            assert server.token not in browser.call("content") + browser.call("url")
    finally:
        log = stop(server)
    assert server.token not in log


async def test_with_ui_input_typing_reaches_a_repl_and_kill_ends_it(
    casts: Path, browser: Browser, tmp_path: Path
) -> None:
    server = start_server("--ui-input")
    try:
        async with connect(server) as client:
            await call_tool(
                client,
                "exec_command",
                {"cmd": "ls -l --color=always /usr/bin | head -12", "yield_time_ms": 10_000},
            )
            text, _ = await call_tool(client, "exec_command", {"cmd": "python3 -q -i", "login": False})
            await mcp_read_until(client, 1, ">>> ", seen=body(text))
            await call_tool(
                client, "write_stdin", {"session_id": 1, "chars": "import sys; sys.version_info[:2]\n"}
            )
            await call_tool(client, "exec_command", {"cmd": "sleep 600", "login": False, "yield_time_ms": 0})
            log_in(browser, server)
            assert browser.call("text", selector="#mode") == "input enabled"
            open_session(browser, "1:1", "version_info")
            browser.call("click", selector="#screen")
            browser.call("type", text="[n * n for n in range(2, 9)]\n")
            browser.call("waitForText", selector="#screen", text="[4, 9, 16, 25, 36, 49, 64]")
            # What the person typed went in as write_stdin's input: the agent's next call sees it.
            await mcp_read_until(client, 1, "[4, 9, 16, 25, 36, 49, 64]")
            shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "ui.png")
            browser.call("screenshot", path=str(shot if shot.is_absolute() else ROOT / shot))
            browser.call("click", selector="#kill")
            browser.call("waitForText", selector="#viewer-status", text="killed (exit code")
            text, error = await call_tool(client, "write_stdin", {"session_id": 1, "chars": ""})
            assert error and "was killed" in text
            row = '#sessions tbody tr[data-key="1:1"][data-state="ended"]'
            browser.call("waitFor", selector=row)
            browser.call("click", selector=row)  # an ended session replays from its cast
            browser.call("waitFor", selector="#screen .ap-player")
            browser.call("waitForText", selector="#screen", text="[4, 9, 16, 25, 36, 49, 64]")
            assert "replaying its cast" in browser.call("text", selector="#viewer-note")
            [cast] = [
                p
                for p in casts.iterdir()
                if json.loads(p.read_text().splitlines()[0])["command"] == "python3 -q -i"
            ]
            typed = [json.loads(line)[2] for line in cast.read_text().splitlines()[1:] if '"i"' in line]
            assert "".join(typed).startswith("import sys") and "[n * n for n in range(2, 9)]\r" in "".join(
                typed
            )
            problems = [
                line for line in browser.call("consoleLines") if line.startswith(("pageerror", "error"))
            ]
            assert all("401" in line for line in problems), problems  # the check before logging in
    finally:
        log = stop(server)
    assert server.token not in log
