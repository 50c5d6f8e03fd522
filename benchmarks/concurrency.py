"""concurrency: 2,000 idle ``cat`` sessions held at once.

Each side runs in a fresh interpreter (``benchmarks.probe``), alternating. Floor: a bare loop
that starts ``bash -c cat`` with ``Popen`` on a new PTY, 2,000 times, and holds them. streamshell:
one manager (``max_sessions`` raised to fit) and 2,000 ``exec_command(cmd="cat", yield_time_ms=0)``.
Measured: this process's RSS growth per session, its thread count before and after, spawn rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import time
from typing import Any

from streamshell import ExecCommandParams, Ongoing, SessionManager

from .isolated import run_probe
from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import alternate, summarize
from .system import pty_limits, raise_open_files_limit, status_kib

MAX_KIB_PER_SESSION = 5.0
MIN_RATE = 0.8
PTY_MARGIN = 16
"""PTYs left for everything else on the machine when capping the session count."""
IDLE = ExecCommandParams(cmd="cat", login=False, yield_time_ms=0)


def _held(sessions: int, seconds: float, rss_before: int, threads_before: int) -> dict[str, Any]:
    return {
        "rate": sessions / seconds,
        "kib_per_session": (status_kib("VmRSS") - rss_before) / sessions,
        "threads_before": threads_before,
        "threads_after": status_kib("Threads"),
    }


def floor_probe(sessions: int) -> dict[str, Any]:
    """Run in the probe process: hold ``sessions`` Popen+openpty children, then kill them."""
    raise_open_files_limit()
    gc.collect()
    rss, threads = status_kib("VmRSS"), status_kib("Threads")
    children: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        started = time.perf_counter()
        for _ in range(sessions):
            master, slave = os.openpty()
            child = subprocess.Popen(
                ["/bin/bash", "-c", "cat"], stdin=slave, stdout=slave, stderr=slave, start_new_session=True
            )
            os.close(slave)
            children.append((child, master))
        return _held(sessions, time.perf_counter() - started, rss, threads)
    finally:
        for child, _ in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        for child, master in children:
            child.wait()
            os.close(master)


def streamshell_probe(sessions: int) -> dict[str, Any]:
    """Run in the probe process: hold ``sessions`` streamshell sessions, then close the manager."""
    raise_open_files_limit()
    return asyncio.run(_hold_sessions(sessions))


async def _hold_sessions(sessions: int) -> dict[str, Any]:
    async with SessionManager(max_sessions=sessions + 100) as manager:
        await manager.exec_command(ExecCommandParams(cmd="true", login=False))
        gc.collect()
        rss, threads = status_kib("VmRSS"), status_kib("Threads")
        started = time.perf_counter()
        for _ in range(sessions):
            out = await manager.exec_command(IDLE)
            if not isinstance(out.exit_status, Ongoing):
                raise RuntimeError(f"`cat` did not stay running: {out.to_text_output()}")
        result = _held(sessions, time.perf_counter() - started, rss, threads)
        running = sum(info.running for info in manager.list_sessions())
        if running != sessions:
            raise RuntimeError(f"{running} of {sessions} sessions are running")
    return result


def _threads(samples: list[dict[str, Any]]) -> str:
    pairs = sorted({(s["threads_before"], s["threads_after"]) for s in samples})
    return ", ".join(f"{before} -> {after}" for before, after in pairs)


async def rows(sizes: Sizes) -> list[Row]:
    limits = pty_limits()
    sessions = min(sizes.sessions, limits.available - PTY_MARGIN)

    async def floor() -> dict[str, Any]:
        return run_probe("concurrency-floor", sessions=sessions)

    async def ours() -> dict[str, Any]:
        return run_probe("concurrency-streamshell", sessions=sessions)

    floors, ourses = await alternate(floor, ours, sizes.concurrency_pairs, warm_up=False)
    f_kib, o_kib = (summarize([s["kib_per_session"] for s in x]) for x in (floors, ourses))
    f_rate, o_rate = (summarize([s["rate"] for s in x]) for x in (floors, ourses))
    rate = o_rate.median / f_rate.median
    threads_flat = all(s["threads_after"] == s["threads_before"] for s in ourses)
    what = f"{sessions:,} idle `cat` sessions"
    pty = (
        f"PTY limit: /proc/sys/kernel/pty/max = {limits.max} (reserve {limits.reserve}, "
        f"{limits.in_use} in use at the start)"
    )
    note = (
        f"concurrency capped at {sessions:,} sessions (asked {sizes.sessions:,}) by the {pty}."
        if sessions < sizes.sessions
        else f"concurrency: {what} fit the {pty}."
    )
    return [
        Row(
            metric=f"concurrency: {what}, Python RSS per session",
            floor=f"{spread(f_kib, 'KiB', 1, 2)}: Popen + openpty in a bare loop",
            streamshell=spread(o_kib, "KiB", 1, 2),
            ratio="-",
            target=f"≤ {MAX_KIB_PER_SESSION:g} KiB per session",
            verdict=verdict(o_kib.median <= MAX_KIB_PER_SESSION),
            notes=(note,),
        ),
        Row(
            metric=f"concurrency: {what}, threads before -> after",
            floor=_threads(floors),
            streamshell=_threads(ourses),
            ratio="-",
            target="independent of session count",
            verdict=verdict(threads_flat),
        ),
        Row(
            metric=f"concurrency: {what}, spawn rate",
            floor=spread(f_rate, "sessions/s", 1, 0),
            streamshell=spread(o_rate, "sessions/s", 1, 0),
            ratio=f"{rate:.2f}x",
            target=f"≥ {MIN_RATE:.2f}x",
            verdict=verdict(rate >= MIN_RATE),
        ),
    ]
