"""recording: the throughput row's transfer with every byte recorded as a cast, against none.

The same producer as :mod:`.throughput` (``head -c N /dev/zero | base64`` through the PTY), one
``exec_command`` each, alternating (A B A B) a manager without ``transcript_dir`` and one
recording into a temporary directory (the default caps: the cast's middle is elided past
64 MiB, as it would be). Rate is bytes over the call's wall time: what a session sees. CPU is
this process's, the writer thread's included, until the writer has written the cast (waited
for outside the timed call, so that it never spills into the next run).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

from streamshell import ExecCommandParams, Exited, SessionManager
from streamshell._engine.options import ManagerOptions
from streamshell._engine.transcripts import TranscriptStore

from .report import CPU_PER_MB, RATE, Row, ratio_row, size, spread
from .sizes import Sizes
from .stats import alternate, summarize
from .throughput import TOKEN_BYTES, YIELD_MS, producer

MIN_RATE = 0.9
MAX_CPU = 1.3


@dataclass(frozen=True)
class Recorded:
    size: int
    wall: float
    """Seconds the call took."""
    cpu: float
    """This process's CPU seconds until the cast was written."""
    drain: float
    """Seconds the writer still needed after the call returned."""


async def transfer(manager: SessionManager, cmd: str, store: TranscriptStore | None) -> Recorded:
    wall, cpu = time.perf_counter(), time.process_time()
    out = await manager.exec_command(ExecCommandParams(cmd=cmd, login=False, yield_time_ms=YIELD_MS))
    called = time.perf_counter()
    if out.exit_status != Exited(0) or out.original_token_count is None:
        raise RuntimeError(f"the producer did not run to completion: {out.exit_status}")
    if store is not None:
        await store.written()
    drained = time.perf_counter()
    return Recorded(
        out.original_token_count * TOKEN_BYTES, called - wall, time.process_time() - cpu, drained - called
    )


async def rows(sizes: Sizes) -> list[Row]:
    cmd = producer(sizes.throughput_input)
    options = ManagerOptions(max_yield_time_ms=YIELD_MS)
    with tempfile.TemporaryDirectory(prefix="streamshell-bench-casts-") as directory:
        store = TranscriptStore(
            directory, max_cast_bytes=options.max_cast_bytes, max_total_bytes=options.max_transcripts_bytes
        )
        async with SessionManager(options) as plain, SessionManager(options, transcripts=store) as recording:
            floors, ours = await alternate(
                lambda: transfer(plain, cmd, None),
                lambda: transfer(recording, cmd, store),
                sizes.recording_pairs,
            )
        await store.aclose()
    f_rate = summarize([r.size / r.wall for r in floors])
    o_rate = summarize([r.size / r.wall for r in ours])
    f_cpu = summarize([r.cpu / r.size for r in floors])
    o_cpu = summarize([r.cpu / r.size for r in ours])
    drain = summarize([r.drain for r in ours])
    subject = f"`{cmd}` ({size(floors[0].size)} through the PTY, one call)"
    return [
        ratio_row(
            f"recording: throughput of {subject}, every byte recorded as a cast",
            f_rate,
            o_rate,
            floor_label="the same manager options, no transcript_dir",
            unit=RATE,
            at_least=MIN_RATE,
            notes=(
                f"recording: after the call returned, the writer thread needed {spread(drain)} more "
                "to finish the cast (64 MiB cap: the middle elided)",
            ),
        ),
        ratio_row(
            "recording: CPU of this process per MB, the writer thread's included",
            f_cpu,
            o_cpu,
            unit=CPU_PER_MB,
            at_most=MAX_CPU,
        ),
    ]
