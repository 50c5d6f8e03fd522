"""throughput: one ``exec_command`` reading ~200 MB through the PTY, and the CPU that reading costs.

Producer: ``head -c N /dev/zero | base64``; its 76-column lines go through the terminal's output
processing (``\\n`` becomes ``\\r\\n``) on both sides. Floor: a blocking ``os.read`` loop on a PTY
master with the same producer. Reader CPU is this process's own CPU time
(``time.process_time``: the producer's is not in it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from streamshell import ExecCommandParams, Exited, SessionManager

from .report import CPU_PER_MB, RATE, Row, ratio_row, size
from .sizes import Sizes
from .stats import Timing, alternate, stopwatch, summarize
from .system import read_to_eof

MIN_RATE = 0.9
MAX_CPU = 1.3
YIELD_MS = 3_600_000
"""Long enough for the whole transfer to be one call (the manager's cap is raised to match)."""
TOKEN_BYTES = 4
"""``original_token_count`` is ``ceil(bytes / 4)``: bytes read, to 3 bytes."""


@dataclass(frozen=True)
class Transfer:
    """One producer run: bytes read through the PTY, and the time it took."""

    size: int
    timing: Timing

    @property
    def rate(self) -> float:
        """Bytes per second."""
        return self.size / self.timing.wall

    @property
    def cpu_per_byte(self) -> float:
        return self.timing.cpu / self.size


def producer(input_bytes: int) -> str:
    return f"head -c {input_bytes} /dev/zero | base64"


def floor_transfer(cmd: str) -> Transfer:
    """Blocking 64 KiB reads on the master of a PTY the producer writes to, until EIO."""
    elapsed = stopwatch()
    master, slave = os.openpty()
    child = subprocess.Popen(
        ["/bin/bash", "-c", cmd], stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    size = read_to_eof(master)
    child.wait()
    os.close(master)
    return Transfer(size, elapsed())


async def streamshell_transfer(manager: SessionManager, cmd: str) -> Transfer:
    """The same producer as one ``exec_command`` that waits for its exit."""
    elapsed = stopwatch()
    out = await manager.exec_command(ExecCommandParams(cmd=cmd, login=False, yield_time_ms=YIELD_MS))
    timing = elapsed()
    if out.exit_status != Exited(0) or out.original_token_count is None:
        raise RuntimeError(f"the producer did not run to completion: {out.exit_status}")
    return Transfer(out.original_token_count * TOKEN_BYTES, timing)


async def rows(sizes: Sizes) -> list[Row]:
    cmd = producer(sizes.throughput_input)

    async def floor() -> Transfer:
        return floor_transfer(cmd)

    async with SessionManager(max_yield_time_ms=YIELD_MS) as manager:
        floors, ours = await alternate(
            floor, lambda: streamshell_transfer(manager, cmd), sizes.throughput_pairs, warm_up=False
        )
    f_rate, o_rate = summarize([t.rate for t in floors]), summarize([t.rate for t in ours])
    f_cpu = summarize([t.cpu_per_byte for t in floors])
    o_cpu = summarize([t.cpu_per_byte for t in ours])
    return [
        ratio_row(
            f"throughput: one `exec_command` of `{cmd}` ({size(floors[0].size)} through the PTY)",
            f_rate,
            o_rate,
            floor_label="blocking `os.read` loop",
            unit=RATE,
            at_least=MIN_RATE,
        ),
        ratio_row(
            "throughput: reader CPU (this process, per MB read)",
            f_cpu,
            o_cpu,
            unit=CPU_PER_MB,
            at_most=MAX_CPU,
        ),
    ]
