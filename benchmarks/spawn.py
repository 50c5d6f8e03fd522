"""spawn: ``exec_command(cmd="true", login=False)`` end to end, one at a time.

Floor: what a careful synchronous program does for the same result: a PTY, ``Popen`` in a new
session on its slave (CPython uses vfork), the master read to EIO, the child reaped.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from streamshell import ExecCommandParams, Exited, SessionManager

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import Timing, alternate, stopwatch, summarize
from .system import read_to_eof

TARGET = 1.15
PARAMS = ExecCommandParams(cmd="true", login=False)


def floor_spawn(argv: Sequence[str] = ("/bin/bash", "-c", "true")) -> Timing:
    """openpty + Popen(``argv``: bash -c true) + read to EIO + wait."""
    elapsed = stopwatch()
    master, slave = os.openpty()
    child = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    read_to_eof(master)
    child.wait()
    os.close(master)
    return elapsed()


async def streamshell_spawn(manager: SessionManager) -> Timing:
    """One ``exec_command`` of ``true``, checked to have exited 0."""
    elapsed = stopwatch()
    out = await manager.exec_command(PARAMS)
    timing = elapsed()
    if out.exit_status != Exited(0):
        raise RuntimeError(f"`true` did not exit 0: {out.to_text_output()}")
    return timing


async def rows(sizes: Sizes) -> list[Row]:
    async def floor() -> Timing:
        return floor_spawn()

    async with SessionManager() as manager:
        floors, ours = await alternate(floor, lambda: streamshell_spawn(manager), sizes.spawn_pairs)
    f, o = summarize([t.wall for t in floors]), summarize([t.wall for t in ours])
    f_cpu, o_cpu = (summarize([t.cpu for t in x]).median for x in (floors, ours))
    ratio = o.median / f.median
    note = (
        f"spawn, per call (medians): wall +{(o.median - f.median) * 1000:.3f} ms, this process's CPU "
        f"{f_cpu * 1000:.3f} -> {o_cpu * 1000:.3f} ms. The extra is Python work on the event loop "
        "(spawn preparation, reader and pidfd registration, session bookkeeping)."
    )
    return [
        Row(
            metric='spawn: `exec_command(cmd="true", login=False)`, sequential',
            floor=f"{spread(f)}: openpty + Popen + read to EIO + wait",
            streamshell=spread(o),
            ratio=f"{ratio:.2f}x",
            target=f"≤ {TARGET:.2f}x",
            verdict=verdict(ratio <= TARGET),
            notes=(note,),
        )
    ]
