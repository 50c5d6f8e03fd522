"""raw throughput with the new code present: this engine against the one before it, side by side.

``view="raw"`` sessions must not pay for the emulator, the text view or the input-wait probe
(probed only while a call waits, and then backing off to one probe per 25 ms). Measured: one
``exec_command`` of ``head -c N /dev/zero | base64`` through the PTY (the call waits, so the
probe runs), in a fresh interpreter each, alternating between this working tree and
:data:`BASELINE` (the engine before input waits, views and exit notices), extracted with
``git archive``. A second comparison, in this process, alternates the same transfer with
``return_on_input_wait`` on and off: the one piece of the new code that runs during a raw call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .isolated import REPO, run_probe
from .report import CPU_PER_MB, RATE, Row, ratio_row, size
from .sizes import Sizes
from .stats import alternate, summarize

BASELINE = "e1c475b"
"""The main branch before issue 9 (input waits, wait_for, views, exit notices)."""
MIN_RATIO = 0.95
YIELD_MS = 3_600_000


async def _transfer(manager: Any, input_bytes: int) -> dict[str, Any]:
    """One ``exec_command`` of the producer on ``manager``: bytes, wall and CPU seconds."""
    from streamshell import ExecCommandParams, Exited

    cmd = f"head -c {input_bytes} /dev/zero | base64"
    started, cpu = time.perf_counter(), time.process_time()
    out = await manager.exec_command(ExecCommandParams(cmd=cmd, login=False, yield_time_ms=YIELD_MS))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if out.exit_status != Exited(0) or out.original_token_count is None:
        raise RuntimeError(f"the producer did not run to completion: {out.exit_status}")
    return {"bytes": out.original_token_count * 4, "seconds": elapsed, "cpu": cpu}


def probe(input_bytes: int) -> dict[str, Any]:
    """One transfer through whichever ``streamshell`` this interpreter imports."""
    from streamshell import SessionManager

    async def transfer() -> dict[str, Any]:
        async with SessionManager(max_yield_time_ms=YIELD_MS) as manager:
            return await _transfer(manager, input_bytes)

    return asyncio.run(transfer())


@contextlib.contextmanager
def baseline_source() -> Iterator[Path]:
    """The baseline's ``src`` directory, extracted into a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="streamshell-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", BASELINE, "src"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp) / "src"


async def rows(sizes: Sizes) -> list[Row]:
    with baseline_source() as old:

        def run(pythonpath: str) -> dict[str, Any]:
            return run_probe("raw-throughput", pythonpath=pythonpath, input_bytes=sizes.raw_input)

        async def floor() -> dict[str, Any]:
            return run(str(old))

        async def ours() -> dict[str, Any]:
            return run(str(REPO / "src"))

        floors, ourses = await alternate(floor, ours, sizes.raw_pairs, warm_up=False)
    from streamshell import SessionManager

    async with (
        SessionManager(max_yield_time_ms=YIELD_MS, return_on_input_wait=False) as off,
        SessionManager(max_yield_time_ms=YIELD_MS) as on,
    ):
        offs, ons = await alternate(
            lambda: _transfer(off, sizes.raw_input),
            lambda: _transfer(on, sizes.raw_input),
            sizes.raw_pairs * 2,
        )
    p_off = summarize([r["cpu"] / r["bytes"] for r in offs])
    p_on = summarize([r["cpu"] / r["bytes"] for r in ons])
    f = summarize([r["bytes"] / r["seconds"] for r in floors])
    o = summarize([r["bytes"] / r["seconds"] for r in ourses])
    f_cpu = summarize([r["cpu"] / r["bytes"] for r in floors])
    o_cpu = summarize([r["cpu"] / r["bytes"] for r in ourses])
    return [
        ratio_row(
            f"raw throughput with the new code present ({size(floors[0]['bytes'])} through the PTY, "
            "one call)",
            f,
            o,
            floor_label=f"the engine before ({BASELINE})",
            unit=RATE,
            at_least=MIN_RATIO,
        ),
        ratio_row(
            "raw throughput: reader CPU (this process, per MB read), the same runs",
            f_cpu,
            o_cpu,
            floor_label="the engine before",
            unit=CPU_PER_MB,
            at_most=1 / MIN_RATIO,
        ),
        ratio_row(
            "raw throughput: reader CPU per MB, input-wait probe on (the default) against off, "
            "in one process",
            p_off,
            p_on,
            floor_label="`return_on_input_wait=False`",
            unit=CPU_PER_MB,
            at_most=1 / MIN_RATIO,
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    print(probe(int(sys.argv[1])), os.getpid())
