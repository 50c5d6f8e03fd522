"""`streamshell serve --http`: bearer token, Origin checks, shared sessions, and a clean death."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from helpers import INITIALIZE, alive, body, call_tool, mcp_read_until, wait_until

TOKEN = "test-token-0123456789"


@dataclass
class RunningServer:
    process: subprocess.Popen[str]
    url: str
    token: str


def start_server(*args: str, token: str | None = TOKEN) -> RunningServer:
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


@contextlib.asynccontextmanager
async def connect(server: RunningServer, token: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token or server.token}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(server.url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
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


def test_foreign_origins_are_refused(server: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert post(server.url, {**auth, "Origin": "http://evil.example"}) == 403
    assert post(server.url, {**auth, "Origin": "http://localhost:3000"}) == 200


async def test_clients_share_the_servers_sessions(server: RunningServer) -> None:
    async with connect(server) as first, connect(server) as second:
        text, _ = await call_tool(first, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0})
        assert "Process running with session ID 0" in text
        await mcp_read_until(second, 0, "shared", times=2, chars="shared\n")  # echo, then cat's copy
        [info] = json.loads((await call_tool(first, "list_sessions", {}))[0])
        assert info["command"] == "cat"
    log = stop(server)
    assert re.search(r"streamshell INFO exec_command session=0 running wall=\d+\.\d{3}s", log)


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
    running = start_server()
    try:
        async with connect(running) as session:
            cmd = "trap '' HUP; sleep 600 & echo pids $$ $!; wait"
            text, _ = await call_tool(
                session, "exec_command", {"cmd": cmd, "login": False, "yield_time_ms": 0}
            )
            seen = await mcp_read_until(session, 0, "\r\n", seen=body(text))
        pids = [int(p) for p in seen.split()[1:3]]
        assert all(alive(p) for p in pids)
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
