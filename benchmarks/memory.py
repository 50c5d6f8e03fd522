"""memory: the peak memory of one ``exec_command`` whose process prints 1 GB through the PTY.

Measured in a fresh interpreter: after a warm-up call, ``VmHWM`` is reset to the current RSS,
the call runs, and the growth is the new peak minus that baseline. The original token count must
be exact (``ceil(bytes / 4)``) although only the head and tail windows are kept.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from streamshell import ExecCommandParams, Exited, SessionManager

from .isolated import run_probe
from .report import Row, size, verdict
from .sizes import Sizes
from .stats import summarize
from .system import reset_peak_rss, status_kib

MAX_GROWTH_MIB = 16
YIELD_MS = 3_600_000


def producer(output_bytes: int) -> str:
    return f"head -c {output_bytes} /dev/zero"


def probe(output_bytes: int) -> dict[str, Any]:
    """Run in the probe process: the peak RSS growth of one call and its token count."""
    return asyncio.run(_measure(output_bytes))


async def _measure(output_bytes: int) -> dict[str, Any]:
    async with SessionManager(max_yield_time_ms=YIELD_MS) as manager:
        await manager.exec_command(ExecCommandParams(cmd="true", login=False))
        gc.collect()
        baseline = status_kib("VmRSS")
        reset_peak_rss()
        started = time.perf_counter()
        out = await manager.exec_command(
            ExecCommandParams(cmd=producer(output_bytes), login=False, yield_time_ms=YIELD_MS)
        )
        seconds = time.perf_counter() - started
        peak = status_kib("VmHWM")
    return {
        "growth_kib": peak - baseline,
        "tokens": out.original_token_count,
        "exit_code": out.exit_status.code if isinstance(out.exit_status, Exited) else None,
        "seconds": seconds,
    }


async def rows(sizes: Sizes) -> list[Row]:
    n = sizes.memory_bytes
    runs = [run_probe("memory", output_bytes=n) for _ in range(sizes.memory_runs)]
    growth = summarize([r["growth_kib"] / 1024 for r in runs])
    expected = -(-n // 4)
    exact = all(r["tokens"] == expected and r["exit_code"] == 0 for r in runs)
    spread_text = "" if growth.n == 1 else f" (range {growth.low:.1f}-{growth.high:.1f}, n={growth.n})"
    tokens = f"{runs[0]['tokens']} tokens" + (" = ceil(bytes / 4)" if exact else f", expected {expected}")
    return [
        Row(
            metric=f"memory: one `exec_command` of `{producer(n)}` ({size(n)} through the PTY)",
            floor="-",
            streamshell=f"peak RSS +{growth.median:.1f} MiB{spread_text}; {tokens}",
            ratio="-",
            target=f"≤ {MAX_GROWTH_MIB} MiB growth, exact token count",
            verdict=verdict(growth.high <= MAX_GROWTH_MIB and exact),
        )
    ]
