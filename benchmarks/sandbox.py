"""sandbox: ``exec_command(cmd="true", login=False)`` under workspace-write, and a REPL round trip.

Floor: a bare ``bwrap <the same policy> -- /bin/bash -c true`` on a PTY (openpty + Popen + read to
EIO + wait), the least a bubblewrap sandbox costs; alongside, the same call unsandboxed. The
round trip (``x\\n`` typed into ``cat`` on a terminal, read back) is compared with the same
round trip unsandboxed (target: unchanged).
"""

from __future__ import annotations

import os
import subprocess
import tempfile

from streamshell import ExecCommandParams, Exited, SessionManager, WriteStdinParams

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import Timing, alternate, stopwatch, summarize
from .system import read_to_eof

TARGET = 1.2
ROUND_TRIP_TARGET = 1.2
TRUE = ExecCommandParams(cmd="true", login=False, tty=True)


def bare_bwrap(prefix: list[str], workspace: str) -> Timing:
    elapsed = stopwatch()
    master, slave = os.openpty()
    child = subprocess.Popen(
        [*prefix, "--chdir", workspace, "--", "/bin/bash", "-c", "true"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    read_to_eof(master)
    child.wait()
    os.close(master)
    return elapsed()


async def spawn(manager: SessionManager) -> Timing:
    elapsed = stopwatch()
    out = await manager.exec_command(TRUE)
    timing = elapsed()
    if out.exit_status != Exited(0):
        raise RuntimeError(f"`true` did not exit 0: {out.to_text_output()}")
    return timing


async def round_trip(manager: SessionManager, session: int) -> Timing:
    elapsed = stopwatch()
    out = await manager.write_stdin(
        WriteStdinParams(session, "x\n", yield_time_ms=5000, wait_for="x\r\nx\r\n")
    )
    timing = elapsed()
    if "x\r\nx\r\n" not in out.output:
        raise RuntimeError(f"cat did not echo: {out.output!r}")
    return timing


async def rows(sizes: Sizes) -> list[Row]:
    workspace = tempfile.mkdtemp(prefix="streamshell-bench-sandbox-", dir="/var/tmp")
    try:
        async with (
            SessionManager(sandbox="workspace-write", cwd=workspace, network_access=True) as boxed,
            SessionManager(cwd=workspace) as free,
        ):
            prefix = list(boxed.sandbox.prefix)

            async def floor() -> Timing:
                return bare_bwrap(prefix, workspace)

            floors, ours = await alternate(floor, lambda: spawn(boxed), sizes.spawn_pairs)
            _, unboxed = await alternate(floor, lambda: spawn(free), max(3, sizes.spawn_pairs // 4))
            cats = []
            for manager in (free, boxed):
                out = await manager.exec_command(
                    ExecCommandParams(cmd="cat", login=False, tty=True, yield_time_ms=0)
                )
                cats.append((manager, out.exit_status.session_id))  # type: ignore[union-attr]
            trips_free, trips_boxed = await alternate(
                lambda: round_trip(*cats[0]), lambda: round_trip(*cats[1]), sizes.spawn_pairs
            )
    finally:
        os.rmdir(workspace)
    f, o, u = (summarize([t.wall for t in x]) for x in (floors, ours, unboxed))
    ratio = o.median / f.median
    rf, rb = (summarize([t.wall for t in x]) for x in (trips_free, trips_boxed))
    trip_ratio = rb.median / rf.median
    return [
        Row(
            metric='sandbox: `exec_command(cmd="true", login=False, tty=True)` under workspace-write',
            floor=f"{spread(f)}: bare bwrap (same policy) -- bash -c true on a PTY",
            streamshell=spread(o),
            ratio=f"{ratio:.2f}x",
            target=f"≤ {TARGET:.2f}x",
            verdict=verdict(ratio <= TARGET),
            notes=(
                f"unsandboxed, the same call: {spread(u)}. Beyond bare bwrap: one exec of env (it unblocks "
                "the signals the spawn blocks for bwrap) and streamshell's own spawn, containment included.",
            ),
        ),
        Row(
            metric="sandbox: REPL round trip (`x\\n` into cat, read back) under workspace-write",
            floor=f"{spread(rf)}: the same round trip unsandboxed",
            streamshell=spread(rb),
            ratio=f"{trip_ratio:.2f}x",
            target=f"≤ {ROUND_TRIP_TARGET:.2f}x",
            verdict=verdict(trip_ratio <= ROUND_TRIP_TARGET),
        ),
    ]
