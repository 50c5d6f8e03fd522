"""write_stdin overhead: ``write_stdin(chars="x\\n", yield_time_ms=50)`` to ``cat``.

The call waits its yield time by design (``cat`` never exits, and ``return_on_input_wait`` is off
here: with it on the call returns as soon as ``cat`` reads again, see the repl row), so the floor
is the yield time itself; ``asyncio.sleep`` of the same length, alternated with the calls, shows
what the event loop's own timer adds.
"""

from __future__ import annotations

import asyncio
import time

from streamshell import ExecCommandParams, Ongoing, SessionManager, WriteStdinParams

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import alternate, summarize

YIELD_MS = 50
MAX_EXTRA = 0.002


async def rows(sizes: Sizes) -> list[Row]:
    async with SessionManager(return_on_input_wait=False) as manager:
        out = await manager.exec_command(ExecCommandParams(cmd="cat", login=False, yield_time_ms=0))
        if not isinstance(out.exit_status, Ongoing):
            raise RuntimeError(f"`cat` did not stay running: {out.to_text_output()}")
        session_id = out.exit_status.session_id

        async def floor() -> float:
            started = time.perf_counter()
            await asyncio.sleep(YIELD_MS / 1000)
            return time.perf_counter() - started

        async def ours() -> float:
            started = time.perf_counter()
            result = await manager.write_stdin(WriteStdinParams(session_id, "x\n", yield_time_ms=YIELD_MS))
            elapsed = time.perf_counter() - started
            if result.exit_status != Ongoing(session_id):
                raise RuntimeError(f"`cat` stopped: {result.to_text_output()}")
            return elapsed

        floors, ourses = await alternate(floor, ours, sizes.write_stdin_pairs)
    f, o = summarize(floors), summarize(ourses)
    extra = o.median - YIELD_MS / 1000
    return [
        Row(
            metric=f'write_stdin: `write_stdin(chars="x\\n", yield_time_ms={YIELD_MS})` to `cat`, '
            "`return_on_input_wait=False`",
            floor=f"{YIELD_MS:.2f} ms (the yield); `asyncio.sleep`: {spread(f)}",
            streamshell=spread(o),
            ratio=f"{extra * 1000:+.2f} ms",
            target=f"≤ yield + {MAX_EXTRA * 1000:g} ms (median)",
            verdict=verdict(extra <= MAX_EXTRA),
        )
    ]
