"""cluster: ``RaySessionManager`` on a Ray cluster on this machine (``ray.cluster_utils.Cluster``: every
node has its own raylet and workers), each row against a local ``SessionManager`` in the same run.

- round trip: ``write_stdin(chars="1\\n", yield_time_ms=50)`` to a ``python3 -q -i`` REPL, through the
  cluster and on a local manager, alternated. The call returns at its yield (or sooner, once calls
  return when the program waits for input): the difference is what the cluster adds.
- start rate: ``cat`` sessions started with 64 calls in flight, over 3 nodes and on a local manager,
  alternated (fresh managers each run, actors already started).
- held: idle ``cat`` sessions with ``tty=False`` (PTYs would share this one kernel's limit) spread
  over 4 nodes, started from a fresh interpreter: the client's RSS growth per session, from half of
  them to all of them (what each more session costs, without Ray's one-time buffers).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from streamshell import ExecCommandParams, Ongoing, SessionManager, WriteStdinParams

from .isolated import run_probe
from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import alternate, summarize
from .system import pty_limits, raise_open_files_limit, status_kib

YIELD_MS = 50
MAX_EXTRA = 0.002
MIN_RATE = 0.8
MAX_KIB_PER_SESSION = 5.0
IN_FLIGHT = 64
"""Concurrent exec_command calls while starting sessions (many agents at once)."""
PTY_MARGIN = 16
REPL = ExecCommandParams(cmd="python3 -q -i", login=False, yield_time_ms=0)
IDLE = ExecCommandParams(cmd="cat", login=False, yield_time_ms=0)
IDLE_PIPES = ExecCommandParams(cmd="cat", login=False, yield_time_ms=0, tty=False)


class Waiter:
    """A bare Ray actor on the session's node: what a Ray call costs here by itself."""

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@contextlib.contextmanager
def local_cluster(workers: int) -> Iterator[Any]:
    """A head and ``workers`` worker nodes, this process connected as a driver; all shut down after."""
    import ray
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 1, "include_dashboard": False, "include_log_monitor": False}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for _ in range(workers):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(timeout=120)
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            yield cluster
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()


async def rows(sizes: Sizes) -> list[Row]:
    from streamshell.cluster import RaySessionManager

    with local_cluster(workers=2) as cluster:
        async with SessionManager() as local, RaySessionManager(address=cluster.address) as remote:
            trip = await _round_trips(local, remote, sizes.cluster_round_trip_pairs)
        start = await _start_rates(cluster.address, sizes)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(timeout=120)
        sessions = sizes.cluster_held_sessions
        held = run_probe("cluster-held", address=cluster.address, sessions=sessions, nodes=4)
    return [trip, start, _held_row(held, sizes.cluster_held_sessions)]


async def _round_trips(local: Any, remote: Any, pairs: int) -> Row:
    async def repl(manager: Any) -> Callable[..., Any]:
        out = await manager.exec_command(REPL)
        if not isinstance(out.exit_status, Ongoing):
            raise RuntimeError(f"the REPL did not start: {out.to_text_output()}")
        session_id = out.exit_status.session_id
        await prompt(manager, session_id, out.output)

        async def trip(on_output: Callable[[str], None] | None = None) -> float:
            started = time.perf_counter()
            params = WriteStdinParams(session_id, "1\n", yield_time_ms=YIELD_MS)
            result = await manager.write_stdin(params, on_output=on_output)
            elapsed = time.perf_counter() - started
            if result.exit_status != Ongoing(session_id):
                raise RuntimeError(f"the REPL stopped: {result.to_text_output()}")
            # Untimed: when a loaded machine answered after the yield, wait for it before the next trip.
            answer = await prompt(manager, session_id, result.output)
            if not answer.startswith("1\r\n1\r\n"):
                raise RuntimeError(f"unexpected REPL answer: {answer!r}")
            return elapsed

        return trip

    floor, ours = await repl(local), await repl(remote)
    [node] = {info.node for info in await remote.list_sessions()}
    waiter = await _waiter(node)

    async def ray_floor() -> float:
        started = time.perf_counter()
        await waiter.wait.remote(0)
        return time.perf_counter() - started

    floors, ourses = await alternate(floor, ours, pairs)
    _, streamed = await alternate(floor, lambda: ours([].append), max(1, pairs // 2))
    _, bare = await alternate(floor, ray_floor, max(1, pairs // 2))
    f, o, s, r = summarize(floors), summarize(ourses), summarize(streamed), summarize(bare)
    extra = o.median - f.median
    note = (
        f"cluster round trip with live output streamed back (`on_output`, as MCP progress and the agent "
        f"use): {spread(s)}, {(s.median - f.median) * 1000:+.2f} ms over the local call. A bare Ray actor "
        f"call on the same node that does nothing there (what any Ray call costs on this machine): "
        f"{spread(r)}."
    )
    return Row(
        metric=f'cluster: `write_stdin(chars="1\\n", yield_time_ms={YIELD_MS})` to `python3 -q -i` on a node',
        floor=f"{spread(f)}: the same call on a local SessionManager",
        streamshell=spread(o),
        ratio=f"{extra * 1000:+.2f} ms",
        target=f"≤ +{MAX_EXTRA * 1000:g} ms (median)",
        verdict=verdict(extra <= MAX_EXTRA),
        notes=(note,),
    )


async def _waiter(node: str | None) -> Any:
    """A :class:`Waiter` on ``node``, started (at the niceness Ray gives workers, as the node actors)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    assert node is not None
    strategy = NodeAffinitySchedulingStrategy(node, soft=False)
    waiter = ray.remote(Waiter).options(num_cpus=0, scheduling_strategy=strategy).remote()
    await waiter.wait.remote(0)
    return waiter


async def prompt(manager: Any, session_id: int, seen: str) -> str:
    """Read the REPL's output until it shows its prompt again; all of it, ``seen`` first."""
    while not seen.endswith(">>> "):
        seen += (await manager.write_stdin(WriteStdinParams(session_id, "", yield_time_ms=200))).output
    return seen


async def start_sessions(manager: Any, count: int, params: ExecCommandParams) -> float:
    """Start ``count`` sessions, ``IN_FLIGHT`` calls at a time; sessions per second."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            out = await manager.exec_command(params)
        if not isinstance(out.exit_status, Ongoing):
            raise RuntimeError(f"`cat` did not stay running: {out.to_text_output()}")

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def _start_rates(address: str, sizes: Sizes) -> Row:
    from streamshell.cluster import RaySessionManager

    count = min(sizes.cluster_start_sessions, pty_limits().available - PTY_MARGIN)

    async def floor() -> float:
        async with SessionManager(max_sessions=count + 100) as manager:
            return await start_sessions(manager, count, IDLE)

    async def ours() -> float:
        async with RaySessionManager(address=address, max_sessions=count + 100) as manager:
            return await start_sessions(manager, count, IDLE)

    floors, ourses = await alternate(floor, ours, sizes.cluster_start_pairs)
    f, o = summarize(floors), summarize(ourses)
    rate = o.median / f.median
    return Row(
        metric=f"cluster: {count:,} `cat` sessions started, {IN_FLIGHT} calls in flight, over 3 nodes",
        floor=f"{spread(f, 'sessions/s', 1, 0)}: a local SessionManager",
        streamshell=spread(o, "sessions/s", 1, 0),
        ratio=f"{rate:.2f}x",
        target=f"≥ {MIN_RATE:.2f}x",
        verdict=verdict(rate >= MIN_RATE),
    )


def held_probe(address: str, sessions: int, nodes: int) -> dict[str, Any]:
    """Run in the probe process: hold ``sessions`` idle pipe sessions over the cluster's nodes."""
    raise_open_files_limit()
    return asyncio.run(_hold(address, sessions, nodes))


async def _hold(address: str, sessions: int, nodes: int) -> dict[str, Any]:
    from streamshell.cluster import RaySessionManager

    per_node = sessions // nodes + 100
    async with RaySessionManager(address=address, max_sessions=per_node) as manager:
        if len(manager.nodes()) != nodes:
            raise RuntimeError(f"the cluster has {len(manager.nodes())} nodes, not {nodes}")
        await start_sessions(manager, nodes, IDLE_PIPES)  # warm: every node's first call done
        for session_id in range(nodes):
            await manager.kill_session(session_id)
        gc.collect()
        rss = status_kib("VmRSS")
        started = time.perf_counter()
        half = sessions // 2
        await start_sessions(manager, half, IDLE_PIPES)
        gc.collect()
        rss_half = status_kib("VmRSS")
        await start_sessions(manager, sessions - half, IDLE_PIPES)
        seconds = time.perf_counter() - started
        gc.collect()
        rss_all = status_kib("VmRSS")
        listed = await manager.list_sessions()
        running = sum(info.running and not info.tty for info in listed)
        counts = sorted(sum(1 for i in listed if i.node == slot.node_id) for slot in manager.nodes())
    return {
        "kib_per_session": (rss_all - rss_half) / (sessions - half),
        "kib_average": (rss_all - rss) / sessions,
        "running": running,
        "rate": sessions / seconds,
        "seconds": seconds,
        "per_node": counts,
    }


def _held_row(held: dict[str, Any], asked: int) -> Row:
    kib = held["kib_per_session"]
    note = (
        f"cluster: {held['running']:,} of {asked:,} pipe sessions running at once over 4 nodes "
        f"({', '.join(str(n) for n in held['per_node'])} per node), started in {held['seconds']:.1f} s "
        f"({held['rate']:.0f} sessions/s). Client RSS per session is the growth from the first half of "
        f"the sessions to all of them; from none to all it is {held['kib_average']:.2f} KiB (Ray's "
        "connection buffers included)."
    )
    return Row(
        metric=f"cluster: {asked:,} idle `cat` sessions (`tty=False`) over 4 nodes, client RSS per session",
        floor="-",
        streamshell=f"{kib:.2f} KiB",
        ratio="-",
        target=f"all held, ≤ {MAX_KIB_PER_SESSION:g} KiB per session",
        verdict=verdict(kib <= MAX_KIB_PER_SESSION and held["running"] == asked),
        notes=(note,),
    )
