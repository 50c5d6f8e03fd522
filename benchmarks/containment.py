"""containment: what keeping every process of a session together costs per spawn.

``exec_command(cmd="true", login=False)`` under each kill mechanism, and with a parent-death
signal, against the same under ``process-group`` (the floor: the session's group only, as
before issue 10). A cgroup costs two moves of this process (into the new session's cgroup and
back) and an ``rmdir``; the subreaper a marker and a walk of this process's children at exit;
``parent_death_signal`` an exec of ``setpriv``.
"""

from __future__ import annotations

from typing import Any

from streamshell import SessionManager

from .report import NOT_MEASURED, Row, spread, verdict
from .sizes import Sizes
from .spawn import streamshell_spawn
from .stats import Timing, alternate, summarize

TARGET = 1.10
"""Containment may cost at most this much per spawn (the parent-death signal is measured, not held to it)."""

VARIANTS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("cgroup", {"containment": "cgroup"}, True),
    ("subreaper", {"containment": "subreaper"}, True),
    ("cgroup + parent_death_signal", {"containment": "cgroup", "parent_death_signal": True}, False),
)
"""Name, manager options, and whether the target applies."""


async def rows(sizes: Sizes) -> list[Row]:
    out = []
    async with SessionManager(containment="process-group") as floor_manager:

        async def floor() -> Timing:
            return await streamshell_spawn(floor_manager)

        for name, options, held in VARIANTS:
            async with SessionManager(**options) as manager:
                floors, ours = await alternate(
                    floor, lambda m=manager: streamshell_spawn(m), sizes.spawn_pairs
                )
            f, o = summarize([t.wall for t in floors]), summarize([t.wall for t in ours])
            ratio = o.median / f.median
            out.append(
                Row(
                    metric=f"containment: spawn under `{name}`",
                    floor=f"{spread(f)}: the same under `process-group`",
                    streamshell=spread(o),
                    ratio=f"{ratio:.2f}x",
                    target=f"≤ {TARGET:.2f}x" if held else "-",
                    verdict=verdict(ratio <= TARGET) if held else NOT_MEASURED,
                    notes=(f"{name}: +{(o.median - f.median) * 1000:.3f} ms per spawn (medians).",),
                )
            )
    return out
