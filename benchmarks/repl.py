"""repl: a Python REPL round trip (``print(i*i)`` in ``python3 -q -i``) with default parameters.

Floor: pexpect's ``sendline`` + ``expect`` of the answer and the next prompt on its own PTY,
alternated with streamshell's ``write_stdin`` (default yield, ``return_on_input_wait`` on). The
reference's behaviour, ``return_on_input_wait=False``, waits out the 250 ms default yield: a few
of those are measured too.
"""

from __future__ import annotations

import time

import pexpect

from streamshell import ExecCommandParams, Ongoing, SessionManager, WriteStdinParams

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import alternate, summarize

MAX_EXTRA = 0.005
REPL = "python3 -q -i"


async def _round_trips(manager: SessionManager, runs: int) -> list[float]:
    """``runs`` round trips on one REPL session of ``manager``; each must end at the next prompt."""
    out = await manager.exec_command(ExecCommandParams(cmd=REPL, login=False, yield_time_ms=30_000))
    if not isinstance(out.exit_status, Ongoing):
        raise RuntimeError(f"the REPL did not start: {out.to_text_output()}")
    sid = out.exit_status.session_id
    samples = []
    for i in range(runs):
        started = time.perf_counter()
        out = await manager.write_stdin(WriteStdinParams(sid, f"print({i}*{i})\n"))
        samples.append(time.perf_counter() - started)
        if not out.output.endswith(f"{i * i}\r\n>>> "):
            raise RuntimeError(f"round trip {i} did not end at the prompt: {out.output!r}")
    return samples


async def rows(sizes: Sizes) -> list[Row]:
    child = pexpect.spawn(REPL, encoding="utf-8", timeout=30)
    child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
    child.expect_exact(">>> ")
    count = iter(range(1 << 30))

    async def floor() -> float:
        i = next(count)
        started = time.perf_counter()
        child.sendline(f"print({i}*{i})")
        child.expect_exact(f"{i * i}\r\n>>> ")
        return time.perf_counter() - started

    async with SessionManager() as manager:
        out = await manager.exec_command(ExecCommandParams(cmd=REPL, login=False, yield_time_ms=30_000))
        sid = out.session_id
        assert sid is not None

        async def ours() -> float:
            i = next(count)
            started = time.perf_counter()
            result = await manager.write_stdin(WriteStdinParams(sid, f"print({i}*{i})\n"))
            elapsed = time.perf_counter() - started
            if not result.output.endswith(f"{i * i}\r\n>>> "):
                raise RuntimeError(f"the round trip did not end at the prompt: {result.output!r}")
            return elapsed

        floors, ourses = await alternate(floor, ours, sizes.repl_pairs)
    child.close(force=True)
    async with SessionManager(return_on_input_wait=False) as manager:
        reference = await _round_trips(manager, sizes.reference_repl_runs)
    f, o, r = summarize(floors), summarize(ourses), summarize(reference)
    extra = o.median - f.median
    return [
        Row(
            metric="repl: round trip `print(i*i)` in `python3 -q -i`, default parameters",
            floor=f"{spread(f)}: pexpect send + expect; the reference's way (`return_on_input_wait=False`): "
            f"{spread(r)}",
            streamshell=spread(o),
            ratio=f"{extra * 1000:+.2f} ms",
            target=f"≤ floor + {MAX_EXTRA * 1000:g} ms (median)",
            verdict=verdict(extra <= MAX_EXTRA),
        )
    ]
