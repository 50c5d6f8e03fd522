"""`streamshell serve --http`: bearer token, Origin checks, shared sessions, and a clean death."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from helpers import INITIALIZE, NOTICE, UNSANDBOXED, alive, body, call_tool, mcp_read_until, wait_until

TOKEN = "test-token-0123456789"


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    token: str


def start_server(*args: str, token: str | None = TOKEN, cwd: Path | None = None) -> RunningServer:
    env = dict(os.environ)
    env.pop("STREAMSHELL_TOKEN", None)
    if token is not None:
        env["STREAMSHELL_TOKEN"] = token
    process = subprocess.Popen(
        [sys.executable, "-m", "streamshell", "serve", "--http", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert process.stdout is not None
    banner = ""
    while "Stop with Ctrl-C" not in banner:
        line = process.stdout.readline()
        assert line, f"server exited: {process.communicate()}"
        banner += line
    url = re.search(r"at (http://\S+/mcp)\n", banner)
    shown = re.search(r"^token: (\S+)", banner, re.M)
    assert url and shown
    return RunningServer(process, url.group(1), shown.group(1))


def stop(server: RunningServer, sig: int = signal.SIGTERM) -> str:
    """Stop the server with ``sig``; return its stderr."""
    if server.process.poll() is None:
        server.process.send_signal(sig)
    _, stderr = server.process.communicate(timeout=60)
    return stderr


@pytest.fixture
def server() -> Iterator[RunningServer]:
    running = start_server()
    yield running
    stop(running)


@pytest.fixture
def unsandboxed_server() -> Iterator[RunningServer]:
    running = start_server(*UNSANDBOXED)
    yield running
    stop(running)


@contextlib.asynccontextmanager
async def connect(
    server: RunningServer, token: str | None = None, logs: list[str] | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized MCP client; the data of the log notifications it gets go to ``logs``."""
    headers = {"Authorization": f"Bearer {token or server.token}"}

    async def on_log(params: Any) -> None:
        if logs is not None:
            logs.append(params.data)

    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(server.url, http_client=http) as (read, write),
        ClientSession(read, write, logging_callback=on_log) as session,
    ):
        await session.initialize()
        yield session


def post(url: str, headers: dict[str, str]) -> int:
    """A raw initialize request; returns the HTTP status."""
    body = json.dumps(INITIALIZE).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def test_requests_need_the_bearer_token(server: RunningServer) -> None:
    assert post(server.url, {}) == 401
    assert post(server.url, {"Authorization": "Bearer wrong"}) == 401
    assert post(server.url, {"Authorization": TOKEN}) == 401
    assert post(server.url, {"Authorization": f"Bearer {TOKEN}"}) == 200


def served_port(server: RunningServer) -> str:
    return server.url.rsplit(":", 1)[1].split("/")[0]


def test_foreign_origins_are_refused(server: RunningServer) -> None:
    """Loopback origins only on the served port: a page another local program serves must not
    drive the shell (issue 10, finding 11: any localhost port passed)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    port = served_port(server)
    assert post(server.url, {**auth, "Origin": "http://evil.example"}) == 403
    assert post(server.url, {**auth, "Origin": "http://localhost:1"}) == 403
    assert post(server.url, {**auth, "Origin": "http://127.0.0.1:3000"}) == 403
    assert post(server.url, {**auth, "Origin": f"http://localhost:{port}"}) == 200
    assert post(server.url, {**auth, "Origin": f"http://127.0.0.1:{port}"}) == 200


def test_a_host_header_without_a_port_is_accepted(server: RunningServer) -> None:
    """``Host: localhost`` (no port, as some proxies send it) got 421 (finding 11)."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert post(server.url, {**auth, "Host": "localhost"}) == 200
    assert post(server.url, {**auth, "Host": "127.0.0.1"}) == 200
    assert post(server.url, {**auth, "Host": "evil.example"}) == 421


def pid_of(text: str) -> int:
    """The pid a session's command printed on its first line."""
    return int(body(text).split()[0])


async def test_each_client_has_its_own_sessions(unsandboxed_server: RunningServer) -> None:
    """Another client can neither see, type into nor kill a client's sessions, and its ids are
    its own; a client's sessions die when it closes its MCP session (issue 10, finding 7)."""
    server = unsandboxed_server  # the pid `echo $$` prints is the one list_sessions gives
    cmd = {"cmd": "echo $$; exec cat", "login": False, "yield_time_ms": 500}
    async with connect(server) as first:
        async with connect(server) as second:
            text, _ = await call_tool(first, "exec_command", cmd)
            assert "Process running with session ID 0" in text
            first_pid = pid_of(text)
            assert await call_tool(second, "list_sessions", {}) == ("[]", False)
            for tool, arguments in (
                ("write_stdin", {"session_id": 0, "chars": "x\n"}),
                ("kill_session", {"session_id": 0}),
            ):
                assert await call_tool(second, tool, arguments) == ("unknown session id 0", True)
            text, _ = await call_tool(second, "exec_command", cmd)
            assert "Process running with session ID 0" in text  # its own ids
            second_pid = pid_of(text)
            assert alive(first_pid)
        await wait_until(lambda: not alive(second_pid), what="the gone client's session to be killed")
        assert alive(first_pid)
        [info] = json.loads((await call_tool(first, "list_sessions", {}))[0])
        assert (info["session_id"], info["pid"]) == (0, first_pid)
    await wait_until(lambda: not alive(first_pid), what="the first client's session to be killed")
    log = stop(server)
    assert re.search(r"streamshell INFO exec_command session=0 running wall=\d+\.\d{3}s", log)


async def test_exit_notices_reach_only_their_own_client(server: RunningServer) -> None:
    """A's background job exits: A is told (at once, and in its next result), B never (neither
    the notification nor B's results name A's command; review finding: B's next result carried
    A's notice and A's said nothing)."""
    a_logs: list[str] = []
    b_logs: list[str] = []
    secret = "sleep 0.2; echo secret-of-A; exit 3"
    own = "sleep 0.2; exit 4"
    async with connect(server, logs=a_logs) as a, connect(server, logs=b_logs) as b:
        await call_tool(b, "exec_command", {"cmd": "true", "login": False})  # B is a known client
        text, _ = await call_tool(a, "exec_command", {"cmd": secret, "login": False, "yield_time_ms": 0})
        assert "Process running with session ID 0" in text
        await wait_until(lambda: bool(a_logs), timeout=60, what="A's exit notice")
        assert a_logs == [NOTICE.format(0, 3, secret)]
        text, _ = await call_tool(b, "exec_command", {"cmd": "echo B-work", "login": False})
        assert "secret-of-A" not in text and text.endswith("B-work\r\n")
        # B's own notice comes after A's would have (one queue, sent in order): none of A's before it
        text, _ = await call_tool(b, "exec_command", {"cmd": own, "login": False, "yield_time_ms": 0})
        b_session = int(text.split("session ID ")[1].split()[0])
        await wait_until(lambda: bool(b_logs), timeout=60, what="B's exit notice")
        assert b_logs == [NOTICE.format(b_session, 4, own)]
        text, _ = await call_tool(a, "exec_command", {"cmd": "true", "login": False})
        assert NOTICE.format(0, 3, secret) in text and own not in text
        assert a_logs == [NOTICE.format(0, 3, secret)]


async def test_with_shared_sessions_every_client_is_told() -> None:
    running = start_server("--shared-sessions")
    logs: tuple[list[str], list[str]] = ([], [])
    try:
        async with connect(running, logs=logs[0]) as first, connect(running, logs=logs[1]) as second:
            await call_tool(second, "list_sessions", {})  # a client is told once it made a call
            await call_tool(
                first, "exec_command", {"cmd": "sleep 0.2; exit 5", "login": False, "yield_time_ms": 0}
            )
            await wait_until(lambda: all(logs), timeout=60, what="both clients' notices")
            assert logs == ([NOTICE.format(0, 5, "sleep 0.2; exit 5")],) * 2
    finally:
        stop(running)


async def test_shared_sessions_restores_one_table() -> None:
    running = start_server("--shared-sessions")
    try:
        async with connect(running) as first, connect(running) as second:
            text, _ = await call_tool(
                first, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0}
            )
            assert "Process running with session ID 0" in text
            await mcp_read_until(second, 0, "shared", times=2, chars="shared\n")  # echo, then cat's copy
            [info] = json.loads((await call_tool(second, "list_sessions", {}))[0])
            assert info["command"] == "cat"
    finally:
        stop(running)


async def test_a_generated_token_is_printed_and_works() -> None:
    running = start_server(token=None)
    try:
        assert len(running.token) >= 32
        async with connect(running) as session:
            text, error = await call_tool(session, "exec_command", {"cmd": "echo ok", "login": False})
            assert not error and text.endswith("ok\r\n")
        assert post(running.url, {"Authorization": f"Bearer {TOKEN}"}) == 401
    finally:
        stop(running)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
async def test_killing_the_server_kills_its_sessions(sig: int) -> None:
    running = start_server(*UNSANDBOXED)
    try:
        async with connect(running) as session:
            cmd = "trap '' HUP; sleep 600 & echo pids $$ $!; wait"
            text, _ = await call_tool(
                session, "exec_command", {"cmd": cmd, "login": False, "yield_time_ms": 0}
            )
            seen = await mcp_read_until(session, 0, "\r\n", seen=body(text))
            pids = [int(p) for p in seen.split()[1:3]]
            assert all(alive(p) for p in pids)
            stop(running, sig)  # with the client still connected: the server's death kills them
    finally:
        stop(running, sig)
    await wait_until(lambda: not any(alive(p) for p in pids), what="the sessions to die")


def test_a_non_loopback_host_needs_an_explicit_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STREAMSHELL_TOKEN"}
    refused = subprocess.run(
        [sys.executable, "-m", "streamshell", "serve", "--http", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "refusing to serve on non-loopback host 0.0.0.0" in refused.stderr
    assert "STREAMSHELL_TOKEN" in refused.stderr
    running = start_server("--host", "0.0.0.0")
    try:
        assert running.url.startswith("http://0.0.0.0:")
        port = running.url.rsplit(":", 1)[1]  # "PORT/mcp"
        assert post(f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {TOKEN}"}) == 200
    finally:
        stop(running)


def test_a_wildcard_host_accepts_the_names_it_is_told(tmp_path: object) -> None:
    """Bound to 0.0.0.0, the server cannot know the names clients use: those named with
    --allowed-host are accepted, others refused (421), as DNS-rebinding protection asks."""
    running = start_server("--host", "0.0.0.0", "--allowed-host", "shell.example")
    try:
        port = running.url.split(":")[2].split("/")[0]
        local = f"http://127.0.0.1:{port}/mcp"
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert post(local, {**auth, "Host": f"shell.example:{port}"}) == 200
        assert post(local, {**auth, "Host": f"other.example:{port}"}) == 421
        assert (
            post(local, {**auth, "Host": f"shell.example:{port}", "Origin": f"http://shell.example:{port}"})
            == 200
        )
    finally:
        stop(running)


def test_a_port_in_use_is_a_clear_error(server: RunningServer) -> None:
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    busy = subprocess.run(
        [sys.executable, "-m", "streamshell", "serve", "--http", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert busy.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in busy.stderr


def mcp_post(
    url: str, message: dict[str, object], session: str | None = None
) -> tuple[int, str | None, list[dict[str, object]]]:
    """One raw JSON-RPC message over Streamable HTTP: the status, the Mcp-Session-Id, the replies."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {TOKEN}",
        "MCP-Protocol-Version": "2025-06-18",
    }
    if session is not None:
        headers["Mcp-Session-Id"] = session
    request = urllib.request.Request(url, data=json.dumps(message).encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
            replies = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]
            return int(response.status), response.headers.get("Mcp-Session-Id"), replies
    except urllib.error.HTTPError as e:
        return e.code, None, []


def open_mcp_session(url: str) -> str:
    status, session, _ = mcp_post(url, INITIALIZE)
    assert status == 200 and session, status
    status, _, _ = mcp_post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    assert status == 202, status
    return session


def test_a_slow_request_head_is_cut_off() -> None:
    """A connection dribbling its request head (slowloris) is closed after --header-timeout,
    before a first request and between requests (issue 10, finding 11)."""
    running = start_server("--header-timeout", "1")
    try:
        port = int(served_port(running))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=30) as idle,
            socket.create_connection(("127.0.0.1", port), timeout=30) as dribbling,
        ):
            dribbling.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            assert idle.recv(1) == b"" and dribbling.recv(1) == b""  # closed by the server
            assert time.monotonic() - started < 20
        with socket.create_connection(("127.0.0.1", port), timeout=30) as kept_alive:
            kept_alive.sendall(f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert kept_alive.recv(12).startswith(b"HTTP/1.1 401")
            kept_alive.sendall(b"GET /mcp HTTP/1.1\r\nHost:")
            while kept_alive.recv(4096):  # the rest of the 401, then the close
                pass
    finally:
        stop(running)


def test_connections_and_mcp_sessions_are_capped() -> None:
    """More MCP sessions than --max-clients, or more connections than the cap derived from it,
    get 503 while the others go on (finding 11: sessions piled up per initialize)."""
    running = start_server("--max-clients", "2", "--header-timeout", "60")
    try:
        assert post(running.url, {"Authorization": f"Bearer {TOKEN}"}) == 200
        assert post(running.url, {"Authorization": f"Bearer {TOKEN}"}) == 200
        assert post(running.url, {"Authorization": f"Bearer {TOKEN}"}) == 503
        port = int(served_port(running))
        idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(4 * 2 + 8)]
        try:
            assert post(running.url, {"Authorization": f"Bearer {TOKEN}"}) == 503
        finally:
            for sock in idle:
                sock.close()
    finally:
        stop(running)


def test_an_idle_client_is_ended_with_its_sessions() -> None:
    """An MCP session with no request for --idle-timeout seconds ends, and its sessions die."""
    running = start_server("--idle-timeout", "1", *UNSANDBOXED)
    try:
        session = open_mcp_session(running.url)
        arguments = {"cmd": "echo $$; exec cat", "login": False, "yield_time_ms": 500}
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "exec_command", "arguments": arguments},
        }
        status, _, [reply] = mcp_post(running.url, call, session)
        assert status == 200, reply
        text = reply["result"]["content"][0]["text"]  # type: ignore[index]
        pid = pid_of(text)
        deadline = time.monotonic() + 60
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid), "the idle client's session outlived its MCP session"
        assert mcp_post(running.url, call, session)[0] == 404
    finally:
        stop(running)


def test_a_deleted_working_directory_fails_only_the_calls_that_need_it(tmp_path: Path) -> None:
    """`rm -rf $PWD` under the server: a client that connects afterwards gets a spawn error for a
    call without workdir (not a JSON-RPC error with code 0), and workdir still works (finding 2)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    running = start_server(cwd=gone)
    try:
        gone.rmdir()
        session = open_mcp_session(running.url)
        results = []
        for i, arguments in enumerate(
            ({"cmd": "pwd", "login": False}, {"cmd": "pwd", "login": False, "workdir": "/"})
        ):
            call = {
                "jsonrpc": "2.0",
                "id": 10 + i,
                "method": "tools/call",
                "params": {"name": "exec_command", "arguments": arguments},
            }
            status, _, [reply] = mcp_post(running.url, call, session)
            assert status == 200 and "result" in reply, reply
            results.append(reply["result"])  # type: ignore[index]
        assert results[0]["isError"] and results[0]["content"][0]["text"] == (
            f"failed to create exec command session for session id 0: working directory {gone} does not exist"
        )
        assert not results[1]["isError"] and results[1]["content"][0]["text"].endswith("Output:\n/\r\n")
    finally:
        stop(running)
