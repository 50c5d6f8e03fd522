"""sandbox: ``exec_command(cmd="true", login=False)`` under workspace-write, and a REPL round trip.

Floor: a bare ``bwrap <the same policy> -- /bin/bash -c true`` on a PTY (openpty + Popen + read to
EIO + wait), the least a bubblewrap sandbox costs; alongside, the same call unsandboxed. The
round trip (``x\\n`` typed into ``cat`` on a terminal without echo, read back: ``wait_for``
matches line by line) is compared with the same round trip unsandboxed (target: unchanged).
"""

from __future__ import annotations

import os
import tempfile

from streamshell import ExecCommandParams, SessionManager, WriteStdinParams

from .report import Row, ratio_row, spread
from .sizes import Sizes
from .spawn import floor_spawn, streamshell_spawn
from .stats import Timing, alternate, stopwatch, summarize

TARGET = 1.2
ROUND_TRIP_TARGET = 1.2


async def round_trip(manager: SessionManager, session: int) -> Timing:
    elapsed = stopwatch()
    out = await manager.write_stdin(WriteStdinParams(session, "x\n", yield_time_ms=5000, wait_for="^x"))
    timing = elapsed()
    if not out.matched:
        raise RuntimeError(f"cat did not answer within 5 s: {out.output!r}")
    return timing


async def rows(sizes: Sizes) -> list[Row]:
    workspace = tempfile.mkdtemp(prefix="streamshell-bench-sandbox-", dir="/var/tmp")
    try:
        async with (
            SessionManager(sandbox="workspace-write", cwd=workspace, network_access=True) as boxed,
            SessionManager(cwd=workspace) as free,
        ):
            bare = [*boxed.sandbox.prefix, "--chdir", workspace, "--", "/bin/bash", "-c", "true"]

            async def floor() -> Timing:
                return floor_spawn(bare)

            floors, ours = await alternate(floor, lambda: streamshell_spawn(boxed), sizes.spawn_pairs)
            _, unboxed = await alternate(
                floor, lambda: streamshell_spawn(free), max(3, sizes.spawn_pairs // 4)
            )
            cats = []
            for manager in (free, boxed):
                out = await manager.exec_command(
                    ExecCommandParams(cmd="stty -echo; exec cat", login=False, tty=True, yield_time_ms=0)
                )
                cats.append((manager, out.exit_status.session_id))  # type: ignore[union-attr]
            trips_free, trips_boxed = await alternate(
                lambda: round_trip(*cats[0]), lambda: round_trip(*cats[1]), sizes.spawn_pairs
            )
    finally:
        os.rmdir(workspace)
    f, o, u = (summarize([t.wall for t in x]) for x in (floors, ours, unboxed))
    rf, rb = (summarize([t.wall for t in x]) for x in (trips_free, trips_boxed))
    spawn_row = ratio_row(
        'sandbox: `exec_command(cmd="true", login=False, tty=True)` under workspace-write',
        f,
        o,
        floor_label="bare bwrap (same policy) -- bash -c true on a PTY",
        at_most=TARGET,
        notes=(
            f"unsandboxed, the same call: {spread(u)}. Beyond bare bwrap: one exec of env (it unblocks "
            "the signals the spawn blocks for bwrap) and streamshell's own spawn, containment included.",
        ),
    )
    trip_row = ratio_row(
        "sandbox: REPL round trip (`x\\n` into cat, read back) under workspace-write",
        rf,
        rb,
        floor_label="the same round trip unsandboxed",
        at_most=ROUND_TRIP_TARGET,
    )
    return [spawn_row, trip_row]
