"""Clients of a real Ray cluster in their own processes: one that vanishes without closing, one that
restarts and takes its sessions back, `streamshell serve --ray` driven by the MCP SDK's stdio client,
and `streamshell agent -c ray_address=...` driven by the reference harness's fake model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from helpers import INITIALIZE, MARK, alive, body, call_tool, mcp_read_until, progress_messages, wait_until
from ray_cluster import LocalCluster, ray_manager
from streamshell import WriteStdinParams
from test_agent import EXPECTED, SCRIPT, fake_model, run_agent, sent_outputs

pytestmark = pytest.mark.xdist_group("ray")

CLIENT = """
import asyncio, json, os, sys
from streamshell import ExecCommandParams
from streamshell.cluster import RaySessionManager

async def main() -> None:
    address, name, grace = sys.argv[1], sys.argv[2], float(sys.argv[3])
    m = RaySessionManager(address=address, name=name, orphan_grace=grace, env={MARK: os.environ[MARK]})
    await m.exec_command(ExecCommandParams("cat", yield_time_ms=0, login=False))
    [info] = await m.list_sessions()
    print(json.dumps({"id": info.session_id, "pid": info.pid, "node": info.node}), flush=True)
    await asyncio.Event().wait()  # until killed: it never closes its manager

asyncio.run(main())
""".replace("MARK", repr(MARK))


def vanishing_client(cluster: LocalCluster, name: str, grace: float) -> tuple[subprocess.Popen[str], Any]:
    """A client process that starts a `cat` session and then waits to be killed; its session."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT, cluster.address, name, str(grace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, f"the client process exited with {proc.wait()}"
    return proc, json.loads(line)


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


async def test_a_vanished_clients_sessions_die_after_its_grace(ray_cluster: LocalCluster) -> None:
    proc, session = vanishing_client(ray_cluster, f"vanish-{uuid.uuid4().hex}", grace=2.0)
    assert alive(session["pid"])
    kill(proc)
    await wait_until(lambda: not alive(session["pid"]), what="the node to kill a vanished client's session")


async def test_a_restarted_client_takes_its_sessions_back(ray_cluster: LocalCluster) -> None:
    name = f"restart-{uuid.uuid4().hex}"
    proc, session = vanishing_client(ray_cluster, name, grace=60.0)
    kill(proc)
    async with ray_manager(ray_cluster, name=name, orphan_grace=60.0) as m:
        [info] = await m.list_sessions()
        assert (info.session_id, info.pid, info.node, info.running) == (
            session["id"],
            session["pid"],
            session["node"],
            True,
        )
        out = await m.write_stdin(WriteStdinParams(session["id"], "hello\n", yield_time_ms=2000))
        assert out.output == "hello\r\nhello\r\n"
        out = await m.exec_command(ray_manager_params())
        assert out.exit_status.code == 0  # type: ignore[union-attr]
        assert out.session_id == session["id"] + 1, "ids go on from the previous client's"
    assert not alive(session["pid"])


def ray_manager_params() -> Any:
    from streamshell import ExecCommandParams

    return ExecCommandParams("true", login=False)


async def test_serve_with_ray_serves_a_real_mcp_client(ray_cluster: LocalCluster, tmp_path: Path) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "streamshell", "serve", "--ray", ray_cluster.address],
        env=dict(os.environ),
    )
    env = {MARK: os.environ[MARK]}  # the nodes' sessions carry the leak detector's marker this way
    with (tmp_path / "server.stderr").open("w") as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            updates, on_progress = progress_messages()

            text, error = await call_tool(
                session,
                "exec_command",
                {"cmd": "echo one; sleep 0.2; echo two", "login": False, "env": env},
                progress_callback=on_progress,
            )
            assert not error and text.endswith("Process exited with code 0\nOutput:\none\r\ntwo\r\n")
            assert "".join(updates) == "one\r\ntwo\r\n"
            text, _ = await call_tool(
                session,
                "exec_command",
                {"cmd": "python3 -q -i", "login": False, "yield_time_ms": 0, "env": env},
            )
            assert "Process running with session ID 1" in text
            await mcp_read_until(session, 1, ">>> ", seen=body(text))
            await mcp_read_until(session, 1, "42", chars="6*7\n")
            text, _ = await call_tool(
                session, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0, "env": env}
            )
            listed = json.loads((await call_tool(session, "list_sessions", {}))[0])
            assert [s["session_id"] for s in listed] == [1, 2]
            assert {s["node"] for s in listed} <= set(ray_cluster.node_ids) and len(
                {s["node"] for s in listed}
            ) == 2
            text, error = await call_tool(session, "kill_session", {"session_id": 1})
            assert not error and "Process exited with code 129\n" in text
            pids = [s["pid"] for s in listed]
    for pid in pids:  # the server's close killed the cat on its node
        await wait_until(lambda pid=pid: not alive(pid), what=f"session process {pid} to be gone")
    log = (tmp_path / "server.stderr").read_text()
    assert f"sessions run on the Ray cluster at {ray_cluster.address}" in log


def test_serve_with_ray_refuses_an_address_nobody_answers_at() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streamshell", "serve", "--ray", "127.0.0.1:9"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.startswith(
        "streamshell: cannot connect to the Ray cluster at 127.0.0.1:9: "
        "no Ray cluster answers at 127.0.0.1:9: "
    )


def test_serve_with_ray_refuses_the_unified_profile_before_serving(ray_cluster: LocalCluster) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streamshell", "serve", "--ray", ray_cluster.address, "--profile", "unified"],
        capture_output=True,
        text=True,
        input=json.dumps(INITIALIZE) + "\n",
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, ""), done.stderr  # a usage error, and nothing served
    assert done.stderr.startswith("usage: streamshell serve")
    assert done.stderr.endswith(
        "error: --ray: profile = 'unified': a cluster serves only the reference profile (its client numbers "
        "sessions from 0 across the nodes)\n"
    )


def test_the_agent_runs_its_commands_on_the_cluster(ray_cluster: LocalCluster, tmp_path: Path) -> None:
    env = {MARK: os.environ[MARK]}
    script = [
        {**call, "arguments": {**call["arguments"], "env": env}} if call["name"] == "exec_command" else call
        for call in SCRIPT
    ]
    with fake_model(script, tmp_path / "log") as url:
        done = run_agent(
            url,
            tmp_path,
            "-c",
            "experimental_use_exec_command_tool=true",
            "-c",
            f"ray_address={json.dumps(ray_cluster.address)}",
        )
    assert done.returncode == 0, done.stderr
    assert sent_outputs(tmp_path / "log") == EXPECTED


def test_the_agent_refuses_a_ray_address_nobody_answers_at(tmp_path: Path) -> None:
    done = run_agent("http://127.0.0.1:9/v1", tmp_path, "-c", 'ray_address="127.0.0.1:9"')
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "streamshell agent: ray_address 127.0.0.1:9: cannot connect to the Ray cluster: "
        "no Ray cluster answers at 127.0.0.1:9: "
    )
