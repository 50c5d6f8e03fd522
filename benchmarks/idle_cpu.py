"""idle CPU: 100 sessions waiting for input while no call waits on them.

Input waits are probed only while a call waits, so 100 idle ``cat`` sessions cost the event
loop nothing. Measured: this process's CPU time over a fixed idle interval with 100 sessions
held by a default manager, alternated with the same interval and sessions under
``return_on_input_wait=False`` (where no probe can run).
"""

from __future__ import annotations

import asyncio
import time

from streamshell import ExecCommandParams, SessionManager

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import alternate, summarize

SESSIONS = 100
MAX_EXTRA = 0.0005
"""CPU seconds per second of idling above the floor that would count as polling."""


async def _idle_cpu(manager: SessionManager, seconds: float) -> float:
    """CPU seconds per second this process spends while ``manager`` holds its sessions idle."""
    started = time.process_time()
    await asyncio.sleep(seconds)
    return (time.process_time() - started) / seconds


async def _held(manager: SessionManager) -> None:
    for _ in range(SESSIONS):
        await manager.exec_command(ExecCommandParams(cmd="cat", login=False, yield_time_ms=0))
    # Every one started and waiting for input before the measuring starts.
    while not all(s.waiting_for_input for s in manager.list_sessions()):
        await asyncio.sleep(0.05)


async def rows(sizes: Sizes) -> list[Row]:
    async with SessionManager(return_on_input_wait=False) as plain, SessionManager() as watched:
        await _held(plain)
        await _held(watched)
        floors, ourses = await alternate(
            lambda: _idle_cpu(plain, sizes.idle_seconds),
            lambda: _idle_cpu(watched, sizes.idle_seconds),
            sizes.idle_pairs,
        )
    f, o = summarize(floors), summarize(ourses)
    extra = o.median - f.median
    return [
        Row(
            metric=f"idle CPU: {SESSIONS} `cat` sessions waiting for input, no call waiting",
            floor=f"{spread(f, 'ms/s')}: the same sessions with `return_on_input_wait=False`",
            streamshell=spread(o, "ms/s"),
            ratio=f"{extra * 1000:+.3f} ms/s",
            target=f"no measurable polling (≤ +{MAX_EXTRA * 1000:g} ms/s)",
            verdict=verdict(extra <= MAX_EXTRA),
        )
    ]
