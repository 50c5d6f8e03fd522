"""The page's server side over real HTTP (`streamshell serve --http`): the login, the cookie, the MCP
endpoint's Host and Origin checks, no token anywhere it should not be; the sessions every client
started, watched live; input and kill only with --ui-input; casts recorded by default.

The page itself, in a real browser: tests/test_ui_browser.py."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest

from casts import played
from helpers import body, call_tool, mcp_read_until, sh, wait_until
from streamshell import SessionManager
from streamshell.ui.directory import SessionDirectory, UnknownKey
from test_mcp_http import RunningServer, connect, start_server, stop

CAT = {"cmd": "cat", "login": False, "yield_time_ms": 0}


def base(server: RunningServer) -> str:
    return server.url.rsplit("/mcp", 1)[0]


@pytest.fixture
def casts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where ``serve`` records by default: ``$XDG_STATE_HOME/streamshell/casts``."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path / "streamshell" / "casts"


@pytest.fixture
def server(casts: Path) -> Iterator[RunningServer]:
    running = start_server()
    yield running
    stop(running)


@pytest.fixture
def typing_server(casts: Path) -> Iterator[RunningServer]:
    running = start_server("--ui-input")
    yield running
    stop(running)


async def page_client(server: RunningServer, *, login: bool = True) -> httpx2.AsyncClient:
    client = httpx2.AsyncClient(base_url=base(server), timeout=60)
    if login:
        answer = await client.post("/ui/login", json={"token": server.token})
        assert answer.status_code == 200, answer.text
    return client


@pytest.fixture
async def page(server: RunningServer) -> AsyncIterator[httpx2.AsyncClient]:
    client = await page_client(server)
    yield client
    await client.aclose()


async def test_the_page_needs_the_token_once_then_a_private_cookie(server: RunningServer) -> None:
    async with httpx2.AsyncClient(base_url=base(server), timeout=60) as client:
        redirect = await client.get("/ui")
        assert (redirect.status_code, redirect.headers["location"]) == (308, "/ui/")
        page = await client.get("/ui/")
        assert page.status_code == 200 and "<title>streamshell sessions</title>" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert (await client.get("/ui/api/me")).status_code == 401
        assert (await client.get("/ui/api/sessions")).status_code == 401
        assert (await client.post("/ui/login", json={"token": "wrong"})).status_code == 401
        form = await client.post("/ui/login", data={"token": server.token})
        assert form.status_code == 400  # JSON only: a form from another page cannot log in
        answer = await client.post("/ui/login", json={"token": server.token})
        assert answer.status_code == 200
        cookie = answer.headers["set-cookie"]
        assert re.match(r"streamshell_ui=[\w-]{40,};", cookie)
        for attribute in ("HttpOnly", "Path=/ui", "SameSite=strict"):
            assert attribute in cookie
        assert server.token not in cookie
        me = await client.get("/ui/api/me")
        assert me.status_code == 200 and me.json()["input"] is False
        assert (await client.post("/ui/logout", json={})).status_code == 200
        assert (await client.get("/ui/api/me")).status_code == 401
    async with httpx2.AsyncClient(base_url=base(server), timeout=60) as program:
        bearer = {"Authorization": f"Bearer {server.token}"}
        assert (await program.get("/ui/api/me", headers=bearer)).status_code == 200
    log = stop(server)
    assert "a wrong token was given to /ui/login" in log
    assert server.token not in log and "wrong" not in log.replace("a wrong token", "")


async def test_the_mcp_endpoints_host_and_origin_checks_guard_the_page(
    server: RunningServer, page: httpx2.AsyncClient
) -> None:
    foreign = {"Origin": "http://evil.example"}
    assert (await page.post("/ui/login", json={"token": server.token}, headers=foreign)).status_code == 403
    assert (await page.get("/ui/api/sessions", headers=foreign)).status_code == 403
    for path in ("/ui/", "/ui/static/app.js", "/ui/vendor/xterm/xterm.js", "/ui/api/me"):
        assert (await page.get(path, headers={"Host": "evil.example"})).status_code == 421, path
    assert (await page.get("/ui/vendor/xterm/xterm.js")).status_code == 200


async def test_sessions_of_every_client_are_listed_and_watched_read_only(
    server: RunningServer, page: httpx2.AsyncClient
) -> None:
    async with connect(server) as client:
        text, _ = await call_tool(client, "exec_command", {**CAT, "cmd": "printf 'before\\n'; exec cat"})
        assert "before" in await mcp_read_until(client, 0, "before", seen=body(text))
        [listed] = (await page.get("/ui/api/sessions")).json()
        assert listed["key"] == "1:0" and listed["live"] and listed["state"] in ("running", "waiting")
        assert listed["command"] == "printf 'before\\n'; exec cat" and listed["cast"].endswith(".cast")
        refused = await page.post("/ui/api/sessions/1/0/input", json={"data": "typed\n"})
        assert refused.status_code == 403
        assert refused.json()["error"].startswith("input is disabled: start the server with --ui-input")
        assert (await page.post("/ui/api/sessions/1/0/kill", json={})).status_code == 403
        async with page.stream("GET", "/ui/api/sessions/1/0/stream") as stream:
            events = httpx2.EventSource(stream).__aiter__()
            first = await events.__anext__()
            assert first.event == "screen" and "before" in json.loads(first.data)["text"]
            await call_tool(client, "write_stdin", {"session_id": 0, "chars": "from the agent\n"})
            seen = ""
            while "from the agent\r\nfrom the agent" not in seen:
                event = await events.__anext__()
                assert event.event == "output"
                seen += json.loads(event.data)["text"]
        text, _ = await call_tool(client, "write_stdin", {"session_id": 0, "chars": "", "yield_time_ms": 200})
        assert "typed" not in text  # nothing of the refused input reached it
        missing = await page.get("/ui/api/sessions/1/7/stream")
        assert "no session 1:7 is listed" in missing.text


@pytest.mark.parametrize("shared", [False, True], ids=["a table per client", "shared-sessions"])
async def test_two_clients_sessions_are_both_listed_and_watched(casts: Path, shared: bool) -> None:
    """Whether the server gives each client its own session table or one for all, the page lists
    every client's sessions, each under a key that watches it. A client that leaves takes its table
    (and its sessions) with it, but its ended sessions stay listed; under --shared-sessions its
    sessions live on."""
    server = start_server(*(["--shared-sessions"] if shared else []))
    page = await page_client(server)
    try:
        async with connect(server) as second:
            async with connect(server) as first:
                for client, name in ((first, "first"), (second, "second")):
                    text, _ = await call_tool(
                        client, "exec_command", {**CAT, "cmd": f"echo {name}-client; exec cat"}
                    )
                    session_id = int(re.findall(r"session ID (\d+)", text)[0])
                    await mcp_read_until(client, session_id, f"{name}-client", seen=body(text))
                listed = {
                    s["command"]: s["key"] for s in (await page.get("/ui/api/sessions")).json() if s["live"]
                }
                first_key, second_key = (
                    listed["echo first-client; exec cat"],
                    listed["echo second-client; exec cat"],
                )
                assert len(listed) == 2 and (first_key, second_key) == (
                    ("1:0", "1:1") if shared else ("1:0", "2:0")
                )
                for command, key in listed.items():
                    async with page.stream(
                        "GET", f"/ui/api/sessions/{key.replace(':', '/')}/stream"
                    ) as stream:
                        screen = await httpx2.EventSource(stream).__aiter__().__anext__()
                        assert (
                            screen.event == "screen"
                            and command.split()[1].rstrip(";") in json.loads(screen.data)["text"]
                        )

            # Under per-client tables the first client's manager closes in the background: its
            # session is listed as ended once that began.
            deadline = time.monotonic() + 60
            while True:
                states = {s["key"]: s["live"] for s in (await page.get("/ui/api/sessions")).json()}
                if shared or not states.get(first_key, True) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert states == {first_key: shared, second_key: True}, states
    finally:
        await page.aclose()
        stop(server)


async def test_watching_streams_outlive_the_header_timeout(casts: Path) -> None:
    """The HTTP header timeout closes a connection that sends no request head in time, never one
    whose request is being answered: the page's session list and a session's watch stream (which
    attach reads too) stay open, and keep delivering, well past it."""
    server = start_server("--header-timeout", "1")
    page = await page_client(server)
    try:
        async with connect(server) as client:
            text, _ = await call_tool(client, "exec_command", {**CAT, "cmd": "echo started; exec cat"})
            await mcp_read_until(client, 0, "started", seen=body(text))
            async with (
                page.stream("GET", "/ui/api/events") as listing,
                page.stream("GET", "/ui/api/sessions/1/0/stream") as watching,
            ):
                list_events = httpx2.EventSource(listing).__aiter__()
                watch_events = httpx2.EventSource(watching).__aiter__()
                first = await anext(watch_events)
                assert first.event == "screen", first.data
                assert len(json.loads((await anext(list_events)).data)) == 1
                # A connection opened after both streams, sending nothing: once the server has closed it,
                # the streams have been open longer than the header timeout.
                host, port = server.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
                reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
                try:
                    assert await asyncio.wait_for(reader.read(), 60) == b""
                finally:
                    writer.close()
                await call_tool(client, "write_stdin", {"session_id": 0, "chars": "after the timeout\n"})
                seen = ""
                while "after the timeout" not in seen:
                    event = await asyncio.wait_for(anext(watch_events), 60)
                    if event.event == "output":
                        seen += json.loads(event.data)["text"]
                await call_tool(client, "exec_command", {**CAT, "cmd": "echo second; exec cat"})
                while True:
                    event = await asyncio.wait_for(anext(list_events), 60)
                    if event.event == "sessions" and len(json.loads(event.data)) == 2:
                        break
    finally:
        await page.aclose()
        stop(server)


async def test_with_ui_input_a_person_types_into_a_session_and_kills_it(typing_server: RunningServer) -> None:
    page = await page_client(typing_server)
    try:
        assert (await page.get("/ui/api/me")).json()["input"] is True
        async with connect(typing_server) as client:
            await call_tool(client, "exec_command", CAT)
            typed = await page.post("/ui/api/sessions/1/0/input", json={"data": "from a person\n"})
            assert typed.status_code == 200
            # The agent's next call returns it: the input went in as write_stdin's does.
            await mcp_read_until(client, 0, "from a person", times=2)
            killed = await page.post("/ui/api/sessions/1/0/kill", json={})
            assert killed.status_code == 200 and killed.json()["exit_code"] > 128
            text, error = await call_tool(client, "write_stdin", {"session_id": 0, "chars": ""})
            assert error and "was killed" in text
            [ended] = (await page.get("/ui/api/sessions")).json()
            assert (ended["state"], ended["live"]) == ("ended", False)
            again = await page.post("/ui/api/sessions/1/0/input", json={"data": "x"})
            assert again.status_code == 409 and "has ended" in again.json()["error"]
            cast = await page.get("/ui/api/sessions/1/0/cast")
            assert cast.headers["content-type"] == "application/x-asciicast"
            header, *lines = cast.text.splitlines()
            assert json.loads(header)["command"] == "cat"
            assert ["i", "from a person\n"] in [json.loads(line)[1:] for line in lines]
    finally:
        await page.aclose()


async def test_serve_records_every_session_by_default(casts: Path, server: RunningServer) -> None:
    async with connect(server) as client:
        await call_tool(client, "exec_command", {**CAT, "cmd": "echo recorded", "yield_time_ms": 10_000})
        await call_tool(client, "exec_command", CAT)
        [info] = json.loads((await call_tool(client, "list_sessions", {}))[0])
        assert Path(info["cast"]).parent == casts
        text, _ = await call_tool(client, "kill_session", {"session_id": 1})
        assert f"\nTranscript: {info['cast']}\n" in text
    stop(server)  # the last casts are written before it exits
    recorded = sorted(casts.iterdir())
    assert len(recorded) == 2
    assert played(recorded[0]) == b"recorded\r\n"


async def test_no_transcripts_and_no_ui(casts: Path) -> None:
    running = start_server("--no-transcripts", "--no-ui")
    try:
        async with connect(running) as client:
            await call_tool(client, "exec_command", CAT)
            [info] = json.loads((await call_tool(client, "list_sessions", {}))[0])
            assert "cast" not in info
        async with httpx2.AsyncClient(base_url=base(running), timeout=60) as http:
            answer = await http.get("/ui/", headers={"Authorization": f"Bearer {running.token}"})
            assert answer.status_code == 404
    finally:
        stop(running)
    assert not casts.exists()


async def test_a_default_cast_directory_that_cannot_be_made_records_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server whose user has no writable home (a service user) still serves: the default
    location is not the person's mistake (an explicit bad --transcripts is: see below)."""
    monkeypatch.setenv("XDG_STATE_HOME", "/proc/no-state")
    running = start_server()
    try:
        async with connect(running) as client:
            await call_tool(client, "exec_command", CAT)
            [info] = json.loads((await call_tool(client, "list_sessions", {}))[0])
            assert "cast" not in info
    finally:
        log = stop(running)
    assert "sessions are not recorded: transcript_dir = '/proc/no-state/streamshell/casts'" in log, log


async def test_the_directory_lists_every_managers_sessions() -> None:
    """One label per session manager (a client's table): ``LABEL:ID`` keys; an id alone when only
    one table has it; a closed manager's ended sessions stay listed."""
    directory = SessionDirectory()
    make = directory.track(lambda: SessionManager(watchdog=False))
    first, second = make(), make()
    try:
        for manager in (first, second):
            await manager.exec_command(sh("cat", yield_time_ms=0))
        await second.exec_command(sh("cat", yield_time_ms=0))
        listed = await directory.sessions()
        assert [item.key for item in listed] == ["1:0", "2:0", "2:1"]
        assert (await directory.find("2:1")).info.session_id == 1
        assert (await directory.find("1")).key == "2:1"
        with pytest.raises(UnknownKey, match=r"session 0 is in several session tables \(1:0, 2:0\)"):
            await directory.find("0")
        with pytest.raises(UnknownKey, match=r"no session 9 is listed \(live sessions: 1:0, 2:0, 2:1\)"):
            await directory.find("9")
        await second.aclose()
        await wait_until(lambda: all(s.exit_code is not None for s in second.ended_sessions()))
        listed = await directory.sessions()
        assert [(item.key, item.live) for item in listed] == [("1:0", True), ("2:0", False), ("2:1", False)]
        assert (await directory.find("0")).key == "1:0"  # the live one
    finally:
        await first.aclose()
        await second.aclose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ui-input"], "--ui-input needs the page: serve with --http (and without --no-ui)"),
        (["--http", "--no-ui", "--ui-input"], "--ui-input needs the page"),
        (
            ["--transcripts", "/proc/no/casts"],
            "--transcripts: transcript_dir = '/proc/no/casts' cannot be created",
        ),
        (["--max-cast-bytes", "10"], "argument --max-cast-bytes: '10' is not a whole number >= 65536"),
        (["--transcripts", "/tmp/x", "--no-transcripts"], "not allowed with argument --transcripts"),
    ],
)
def test_bad_watching_flags_are_usage_errors(args: list[str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streamshell", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
