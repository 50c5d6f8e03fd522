"""RaySessionManager on a real multi-node Ray cluster on this machine (a head and two workers, each with
its own raylet): placement, the same texts as a local manager, live output, a node that leaves, and
nothing left running on any node after close."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import ray

from casts import played
from helpers import alive, body, read_until, sh, start, start_until, wait_until, watched_until
from ray_cluster import SOLO_RESOURCE, ZONE_LABEL, LocalCluster, ray_manager
from streamshell import (
    Ongoing,
    SessionEndedError,
    SessionLostError,
    SessionManager,
    SpawnError,
    WriteStdinParams,
    handle_function_call,
)
from streamshell._engine.watch import ScreenShot
from streamshell.ui.directory import SessionDirectory

pytestmark = pytest.mark.xdist_group("ray")

PYTHON = "PYTHON_BASIC_REPL=1 python3 -i -q"


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return found


def normalise(text: str) -> str:
    text = re.sub(r"^Wall time: \d+\.\d{3} seconds", "Wall time: <t> seconds", text)
    return re.sub(r'"duration_seconds":\d+\.\d+\}', '"duration_seconds":"<d>"}', text)


async def test_sessions_spread_over_the_nodes_and_run_under_each_nodes_actor(
    ray_cluster: LocalCluster,
) -> None:
    async with ray_manager(ray_cluster) as m:
        for _ in range(6):
            await start(m, "cat")
        sessions = await m.list_sessions()
        assert [s.session_id for s in sessions] == list(range(6))
        order = [slot.node_id for slot in m.nodes()]  # as the client first saw them
        assert sorted(order) == sorted(ray_cluster.node_ids)
        per_node = {node: [s.session_id for s in sessions if s.node == node] for node in order}
        assert per_node == {order[0]: [0, 3], order[1]: [1, 4], order[2]: [2, 5]}
        actors = {slot.node_id: slot.actor_pid for slot in m.nodes()}
        assert len(set(actors.values())) == 3
        for s in sessions:
            assert s.running and s.tty and not s.lost
            assert parent(s.pid) == actors[s.node], "each session is a child of its own node's actor"
        out = await m.write_stdin(WriteStdinParams(4, "hello\n", yield_time_ms=2000))
        assert "hello" in out.output and out.exit_status == Ongoing(4)


async def transcript(manager: Any) -> list[str]:
    """Tool calls through the one dispatcher, as a model makes them: the texts it reads."""
    texts: list[str] = []

    async def call(name: str, arguments: dict[str, Any]) -> str:
        result = await handle_function_call(manager, name, json.dumps(arguments))
        texts.append(normalise(result.content))
        return result.content

    await call("exec_command", {"cmd": "echo hello; exit 3", "login": False})
    await call("exec_command", {"cmd": "seq 1 3000", "login": False, "max_output_tokens": 50})
    await call("shell", {"command": ["sh", "-c", "echo out; echo err >&2; exit 4"]})
    # A REPL: its output per call depends on timing, so whole exchanges are compared.
    text = await call("exec_command", {"cmd": PYTHON, "login": False, "yield_time_ms": 0})
    assert "Process running with session ID 3" in text  # 2 went to the shell call
    texts.append(await read_until(manager, 3, ">>> ", body(text)))
    out = await manager.write_stdin(WriteStdinParams(3, "6*7\n", yield_time_ms=200))
    texts.append(await read_until(manager, 3, "42\r\n>>> ", out.output))
    out = await manager.write_stdin(WriteStdinParams(3, "import time; time.sleep(60)\n", yield_time_ms=200))
    await read_until(manager, 3, "time.sleep(60)\r\n", out.output)
    out = await manager.write_stdin(WriteStdinParams(3, "\u0003", yield_time_ms=200))
    texts.append(await read_until(manager, 3, "KeyboardInterrupt\r\n>>> ", out.output))
    await call("write_stdin", {"session_id": 3, "chars": "exit()\n", "yield_time_ms": 10_000})
    await call("write_stdin", {"session_id": 3, "chars": ""})
    await call("write_stdin", {"session_id": 99, "chars": ""})
    await call("write_stdin", {"session_id": "3", "chars": ""})
    await call("exec_command", {"cmd": "true", "workdir": "/nonexistent"})
    await call("exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0})
    await call("kill_session", {"session_id": 5})
    await call("write_stdin", {"session_id": 5, "chars": "x"})
    # Pruning at max_sessions=2: the least recently used goes.
    for _ in range(3):
        await call("exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0})
    await call("write_stdin", {"session_id": 6, "chars": ""})
    await call("write_stdin", {"session_id": 8, "chars": "still here\n", "yield_time_ms": 1000})
    return texts


async def test_the_cluster_gives_exactly_the_local_texts(ray_cluster: LocalCluster) -> None:
    async with SessionManager(max_sessions=2) as local:
        expected = await transcript(local)
    # One node, so that pruning at max_sessions (a per-node cap) happens where it does locally.
    async with ray_manager(ray_cluster, max_sessions=2, placement=f"resource:{SOLO_RESOURCE}") as m:
        got = await transcript(m)
    assert got == expected
    assert got[0] == "Wall time: <t> seconds\nProcess exited with code 3\nOutput:\nhello\r\n"
    assert "Warning: truncated output (original token count: 4224)\n" in got[1]
    assert got[2] == '{"output":"out\\nerr\\n","metadata":{"exit_code":4,"duration_seconds":"<d>"}}'
    assert got[4:7] == [">>> ", "6*7\r\n42\r\n>>> ", got[6]] and got[6].endswith("KeyboardInterrupt\r\n>>> ")
    assert got[7:11] == [
        "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\nexit()\r\n",
        "session id 3 already exited with code 0; start a new one with exec_command",
        "unknown session id 99",
        'failed to parse function arguments: session_id: invalid type: string "3", expected u32 '
        "at line 1 column 18",
    ]
    assert got[11].startswith("failed to create exec command session for session id 4: ")
    assert got[13:15] == [
        "Wall time: <t> seconds\nProcess exited with code 129\nOutput:\n",
        "session id 5 was killed (exit code 129); start a new one with exec_command",
    ]
    assert got[18] == (
        "session id 6 was pruned to stay within 2 open sessions (its processes were killed); "
        "start a new one with exec_command"
    )
    assert got[19].endswith("Output:\nstill here\r\nstill here\r\n")


async def test_placement_rules(ray_cluster: LocalCluster) -> None:
    async def nodes_of(m: Any, count: int) -> list[str | None]:
        for _ in range(count):
            await start(m, "cat")
        return [s.node for s in await m.list_sessions()]

    async with ray_manager(ray_cluster, placement="pack", max_sessions=2) as m:
        first, second = (slot.node_id for slot in m.nodes()[:2])
        assert await nodes_of(m, 3) == [first, first, second]
    key, value = ZONE_LABEL
    async with ray_manager(ray_cluster, placement=f"label:{key}={value}") as m:
        assert await nodes_of(m, 3) == [ray_cluster.zone] * 3
        assert [slot.node_id for slot in m.nodes() if slot.actor_pid] == [ray_cluster.zone]
    async with ray_manager(ray_cluster, placement=f"resource:{SOLO_RESOURCE}") as m:
        assert await nodes_of(m, 2) == [ray_cluster.solo] * 2
    async with ray_manager(ray_cluster, placement="label:streamshell-zone=nowhere") as m:
        with pytest.raises(SpawnError) as raised:
            await m.exec_command(sh("true"))
        assert str(raised.value) == (
            "failed to create exec command session for session id 0: no live node of the Ray cluster has "
            "the label streamshell-zone=nowhere (placement label:streamshell-zone=nowhere)"
        )
        result = await handle_function_call(m, "write_stdin", {"session_id": 0, "chars": ""})
        assert result.content == (
            "session id 0 never started: its process could not be created; start a new one with exec_command"
        )
    for bad in ("wide", "label:x", "resource:", 3):
        with pytest.raises(ValueError, match=r"is not one of|must be a string"):
            ray_manager(ray_cluster, placement=bad)


async def test_live_output_streams_from_the_node_while_the_call_waits(ray_cluster: LocalCluster) -> None:
    # The call must keep waiting while the program reads: not returning on the input wait.
    async with ray_manager(ray_cluster, return_on_input_wait=False) as m:
        chunks: list[str] = []
        call = asyncio.ensure_future(
            m.exec_command(
                sh("echo ready; read line; echo got $line", yield_time_ms=30_000), on_output=chunks.append
            )
        )
        await wait_until(lambda: "ready" in "".join(chunks), what="the first line, live")
        assert not call.done(), "the command waits for input: the call cannot have returned"
        [waiting] = await m.list_sessions()
        assert waiting.session_id == 0 and waiting.running
        typed = await handle_function_call(m, "write_stdin", {"session_id": 0, "chars": "x\n"})
        out = await call
        # The input goes in at once; the waiting exec_command then reports the exit first, as locally.
        assert typed.content == "session id 0 already exited with code 0; start a new one with exec_command"
        assert "".join(chunks).endswith("got x\r\n")
        assert out.output.endswith("got x\r\n") and out.exit_status.code == 0  # type: ignore[union-attr]
        # write_stdin streams too, starting with what was printed since the last call.
        sid = await start(m, "cat")
        seen: list[str] = []
        out = await m.write_stdin(WriteStdinParams(sid, "one\n", yield_time_ms=1000), on_output=seen.append)
        assert "".join(seen) == out.output == "one\r\none\r\n"


async def test_a_cancelled_exec_command_kills_the_session_it_started(ray_cluster: LocalCluster) -> None:
    async with ray_manager(ray_cluster) as m:
        for on_output in (None, [].append):
            call = asyncio.ensure_future(
                m.exec_command(sh("sleep 1000", yield_time_ms=30_000), on_output=on_output)
            )
            session = await running_session(m)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await wait_until(
                lambda pid=session.pid: not alive(pid), what="the cancelled call's session to die"
            )
            result = await handle_function_call(
                m, "write_stdin", {"session_id": session.session_id, "chars": ""}
            )
            assert "was killed: the exec_command that started it was cancelled" in result.content


async def test_an_exec_command_cancelled_after_its_node_answered_kills_its_session(
    ray_cluster: LocalCluster,
) -> None:
    """The cancel comes while the node's answer is on its way back: too late to stop the call on the
    node, so the client kills the session itself (review finding 4: it kept running there)."""
    async with ray_manager(ray_cluster) as m:
        call = asyncio.ensure_future(
            m.exec_command(sh("echo READY; exec sleep 1000", wait_for="READY", yield_time_ms=30_000))
        )
        while not any(m._table.load(slot.index) for slot in m.nodes()):
            await asyncio.sleep(0)  # until the start is sent (one step of the call at a time)
        [slot] = [slot for slot in m.nodes() if m._table.load(slot.index)]
        # Blocking this loop, so the call cannot see the answer: a call on the session takes its
        # turn after the exec_command's, so once it returns, the node has answered the start.
        after = slot.handle.call.remote(m.name, m._client, "write_stdin", (WriteStdinParams(0, ""),), {})
        assert "READY" not in ray.get(after, timeout=120).value.output
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        deadline = time.monotonic() + 60
        while [s for s in await m.list_sessions() if s.running]:
            assert time.monotonic() < deadline, "the cancelled call's session still runs on its node"
            await asyncio.sleep(0.05)
        result = await handle_function_call(m, "write_stdin", {"session_id": 0, "chars": ""})
        assert "session id 0 was killed: the exec_command that started it was cancelled" in result.content


async def test_an_exit_on_one_node_is_told_at_once_and_with_the_next_result_from_any_node(
    ray_cluster: LocalCluster,
) -> None:
    """As on a local manager: listeners hear of an exit nobody watched when it happens, and the next
    result carries it, whichever node answers that call (review finding 7: only that node's next
    result did)."""
    async with ray_manager(ray_cluster, placement="spread") as m:
        heard: list[Any] = []
        m.subscribe_exit_notices(heard.append)
        sid = await start(m, "sleep 0.5; exit 4")
        [first] = [s.node for s in await m.list_sessions() if s.session_id == sid]
        await wait_until(lambda: bool(heard), timeout=60, what="the exit notice from the session's node")
        assert [(n.session_id, n.code) for n in heard] == [(sid, 4)]
        out = await m.exec_command(sh("exec sleep 60", yield_time_ms=0))  # spread: a node with no session
        [second] = [s.node for s in await m.list_sessions() if s.session_id == out.session_id]
        assert [n.session_id for n in out.exit_notices] == [sid]
        assert f"Session {sid} exited with code 4 (sleep 0.5; exit 4)" in out.to_text_output()
        again = await m.exec_command(sh("echo again"))
        assert again.exit_notices == ()  # told once
    assert second != first


async def running_session(m: Any) -> Any:
    """The one running session, once it is listed."""
    while True:
        running = [s for s in await m.list_sessions() if s.running]
        if running:
            [session] = running
            return session
        await asyncio.sleep(0.05)


async def test_a_node_where_streamshells_actor_cannot_start_is_skipped(ray_cluster: LocalCluster) -> None:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from streamshell import __version__
    from streamshell.cluster.wire import NAMESPACE, actor_name

    class Impostor:
        async def attach(self, *args: Any) -> None:
            raise RuntimeError("this is not streamshell")

    name = actor_name(ray_cluster.zone, __version__)

    def name_free() -> bool:
        try:
            ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            return True
        return False

    await wait_until(name_free, what="the actor a previous test used to exit")
    impostor = (
        ray.remote(Impostor)
        .options(
            name=name,
            namespace=NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(ray_cluster.zone, soft=False),
        )
        .remote()
    )
    try:
        async with ray_manager(ray_cluster) as m:
            for _ in range(4):
                await start(m, "cat")
            assert {s.node for s in await m.list_sessions()} == {ray_cluster.head, ray_cluster.solo}
            [zone] = [slot for slot in m.nodes() if slot.node_id == ray_cluster.zone]
            failure = f"streamshell's actor on node {ray_cluster.zone} failed: "
            failure += "RuntimeError: this is not streamshell"
            assert zone.failure == failure and zone.actor_pid is None
        key, value = ZONE_LABEL
        async with ray_manager(ray_cluster, placement=f"label:{key}={value}") as m:
            with pytest.raises(SpawnError) as raised:
                await m.exec_command(sh("true"))
            assert str(raised.value) == (
                "failed to create exec command session for session id 0: streamshell's actor could not start "
                f"on any node it may use: {failure}"
            )
    finally:
        ray.kill(impostor)
        await wait_until(name_free, what="the impostor's name to be free")


async def test_a_node_that_leaves_fails_only_its_own_sessions(ray_cluster: LocalCluster) -> None:
    doomed = ray_cluster.add_node(resources={"streamshell_doomed": 1})
    removed = False
    try:
        async with ray_manager(ray_cluster, placement="spread") as m:
            order = [slot.node_id for slot in m.nodes()]
            first = order.index(doomed.node_id)
            second = first + len(order)  # spread: the nodes in turn
            others = sorted(set(range(8)) - {first, second})
            for _ in range(8):
                await start(m, "cat")
            before = await m.list_sessions()
            on_doomed = [s for s in before if s.node == doomed.node_id]
            assert [s.session_id for s in on_doomed] == [first, second]
            ray_cluster.remove_node(doomed)
            removed = True

            listed = {s.session_id: s for s in await m.list_sessions()}
            assert sorted(listed) == list(range(8))
            for s in on_doomed:
                assert listed[s.session_id].lost and not listed[s.session_id].running
                assert listed[s.session_id].pid == s.pid and listed[s.session_id].node == doomed.node_id
            assert all(not listed[i].lost and listed[i].running for i in others)

            with pytest.raises(SessionLostError) as raised:
                await m.write_stdin(WriteStdinParams(first, "hi\n"))
            text = str(raised.value)
            assert re.fullmatch(
                rf"session id {first} was lost with its node {doomed.node_id}, which left the cluster "
                rf"\(last seen at \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z running `cat` as pid "
                rf"{on_doomed[0].pid}\); "
                "start a new one with exec_command",
                text,
            ), text
            lost = [s.session_id for s in await m.list_sessions() if s.lost]
            assert lost == [second], "asked about once: no longer listed"
            result = await handle_function_call(m, "write_stdin", {"session_id": first, "chars": ""})
            assert result.content == text and result.error
            result = await handle_function_call(m, "kill_session", {"session_id": second})
            assert result.content.startswith(f"session id {second} was lost with its node {doomed.node_id}")

            for sid in others:
                out = await m.write_stdin(WriteStdinParams(sid, f"still {sid}\n", yield_time_ms=2000))
                assert f"still {sid}" in out.output and out.exit_status == Ongoing(sid)
            for _ in range(4):
                await start(m, "cat")
            new = [s for s in await m.list_sessions() if s.session_id >= 8]
            assert [s.session_id for s in new] == [8, 9, 10, 11]
            assert {s.node for s in new} == set(ray_cluster.node_ids)
            for s in on_doomed:
                await wait_until(
                    lambda s=s: not alive(s.pid), what=f"session {s.session_id} to die with its node"
                )
    finally:
        if not removed:
            ray_cluster.remove_node(doomed)


async def test_closing_leaves_no_process_on_any_node(ray_cluster: LocalCluster) -> None:
    m = ray_manager(ray_cluster)
    sids = [await start(m, "sleep 1000 & exec cat") for _ in range(3)]
    sids.append(await start(m, "trap '' HUP; cat", tty=False))
    sessions = await m.list_sessions()
    assert {s.node for s in sessions} == set(ray_cluster.node_ids)
    actors = [slot.actor_pid for slot in m.nodes() if slot.actor_pid is not None]
    assert len(actors) == 3
    helpers = [
        child for actor in actors for child in children(actor) if child not in {s.pid for s in sessions}
    ]
    assert helpers, "each node's session manager has its watchdog helper"
    processes = [s.pid for s in sessions] + [c for s in sessions for c in children(s.pid)] + helpers + actors
    assert all(alive(pid) for pid in processes)
    await m.aclose()
    for pid in processes:
        await wait_until(lambda pid=pid: not alive(pid), what=f"process {pid} to be gone")
    await m.aclose()  # idempotent
    result = await handle_function_call(m, "write_stdin", {"session_id": 0, "chars": ""})
    assert result.content == "the session manager is closed"
    assert sids == [0, 1, 2, 3]


async def test_people_watch_and_type_into_sessions_on_the_nodes(
    ray_cluster: LocalCluster, tmp_path: Path
) -> None:
    """What the page and `streamshell attach` need of a cluster: the sessions with their node, a live
    one watched from its node's actor (its screen first), typed into as write_stdin's input goes,
    and the ended ones, each recorded as a cast on its node (this machine here)."""
    directory = SessionDirectory()
    async with ray_manager(ray_cluster, transcript_dir=str(tmp_path)) as m:
        directory.add(m)
        sid, _ = await start_until(m, "printf 'on a node\\n'; exec cat", "on a node")
        [listed] = await directory.sessions()
        assert listed.live and listed.info.node in ray_cluster.node_ids
        events = m.watch(sid)
        first = await anext(events)
        assert isinstance(first, ScreenShot) and "on a node" in first.text
        await m.send_input(sid, "typed\n")
        await watched_until(events, "typed\r\ntyped\r\n")
        assert "typed\r\ntyped" in await read_until(m, sid, "typed\r\ntyped")  # the calls get it all
        await m.kill_session(sid)
        [ended] = await m.ended_sessions()
        assert ended.node == listed.info.node and ended.exit_code is not None and ended.exit_code > 128
        await events.aclose()
        with pytest.raises(SessionEndedError, match=f"session id {sid} was killed"):
            await anext(m.watch(sid))
    assert ended.cast is not None
    assert played(ended.cast) == b"on a node\r\ntyped\r\ntyped\r\n"
