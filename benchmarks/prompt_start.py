"""prompt start: ``exec_command`` of a program that waits for input at once, default 10 s yield.

``cat`` and ``read -p 'Name? ' x``: the call returns when the program waits for its input. The
reference waited out the whole 10 s yield. Floor, alternated: ``exec_command`` of ``true``, a
program that exits at once (start-up and exit, no waiting).
"""

from __future__ import annotations

import time

from streamshell import ExecCommandParams, SessionManager

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import alternate, summarize

TARGET = 0.050
PROGRAMS = {"cat": "cat", "read -p": "read -p 'Name? ' x"}
"""The programs timed, by the name the table shows."""


async def _timed(manager: SessionManager, cmd: str, *, waits: bool) -> float:
    started = time.perf_counter()
    out = await manager.exec_command(ExecCommandParams(cmd=cmd, login=False))
    elapsed = time.perf_counter() - started
    if out.waiting_for_input != waits:
        raise RuntimeError(f"{cmd}: waiting_for_input={out.waiting_for_input}: {out.to_text_output()}")
    if out.session_id is not None and waits:
        await manager.kill_session(out.session_id)
    return elapsed


async def _side_by_side(manager: SessionManager, cmd: str, pairs: int) -> tuple[list[float], list[float]]:
    return await alternate(
        lambda: _timed(manager, "true", waits=False), lambda: _timed(manager, cmd, waits=True), pairs
    )


async def rows(sizes: Sizes) -> list[Row]:
    out: list[Row] = []
    async with SessionManager() as manager:
        for cmd in PROGRAMS.values():
            floors, ourses = await _side_by_side(manager, cmd, sizes.prompt_pairs)
            f, o = summarize(floors), summarize(ourses)
            out.append(
                Row(
                    metric=f"prompt start: `exec_command(cmd={cmd!r}, login=False)`, default 10 s yield",
                    floor=f"the reference: 10 s; `exec_command` of `true`: {spread(f)}",
                    streamshell=spread(o),
                    ratio=f"{o.median / 10:.4f}x the reference",
                    target=f"≤ {TARGET * 1000:g} ms (median)",
                    verdict=verdict(o.median <= TARGET),
                )
            )
    return out
