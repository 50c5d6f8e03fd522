"""Run every metric, print the table, write BENCHMARKS.md (full runs) or ``--output``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from . import (
    cluster,
    cold_start,
    concurrency,
    containment,
    decisions,
    dev_server,
    idle_cpu,
    interactive,
    mcp_stdio,
    memory,
    progress_text,
    prompt_start,
    raw_engine,
    recording,
    repl,
    sandbox,
    spawn,
    throughput,
)
from .isolated import REPO
from .report import Row, machine, render
from .sizes import FULL, QUICK, TOY, Sizes

METRICS: tuple[tuple[str, Callable[[Sizes], Awaitable[list[Row]]]], ...] = (
    ("spawn", spawn.rows),
    ("containment", containment.rows),
    ("sandbox", sandbox.rows),
    ("throughput", throughput.rows),
    ("memory", memory.rows),
    ("concurrency", concurrency.rows),
    ("write_stdin", interactive.rows),
    ("mcp", mcp_stdio.rows),
    ("decisions", decisions.rows),
    ("cold_start", cold_start.rows),
    ("cluster", cluster.rows),
    ("repl", repl.rows),
    ("prompt_start", prompt_start.rows),
    ("dev_server", dev_server.rows),
    ("progress_text", progress_text.rows),
    ("raw_engine", raw_engine.rows),
    ("idle_cpu", idle_cpu.rows),
    ("recording", recording.rows),
)
DEFAULT_OUTPUT = REPO / "BENCHMARKS.md"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a reduced run (under a minute)")
    size.add_argument("--toy", action="store_true", help="a few iterations of everything (the smoke test)")
    parser.add_argument(
        "--only",
        type=_metric_names,
        metavar="NAMES",
        help=f"comma-separated metrics to run, of {', '.join(name for name, _ in METRICS)} "
        "(prints the table; written only with --output)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"where to write the page (default: {DEFAULT_OUTPUT.name} for a full run, nowhere otherwise)",
    )
    return parser.parse_args(argv)


def _metric_names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    known = [name for name, _ in METRICS]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown metric(s) {unknown or '(none)'}; choose from {', '.join(known)}"
        )
    return names


async def run(sizes: Sizes, only: Sequence[str] | None = None) -> list[Row]:
    """Every metric (or the ``only`` ones) in turn, one at a time (they would disturb each other's
    timings)."""
    rows: list[Row] = []
    for name, metric in METRICS:
        if only is not None and name not in only:
            continue
        started = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        rows += await metric(sizes)
        print(f"bench: {name} done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    sizes = QUICK if args.quick else TOY if args.toy else FULL
    header = machine()
    page = render(asyncio.run(run(sizes, args.only)), header, sizes.name)
    print(page)
    output = args.output or (DEFAULT_OUTPUT if sizes is FULL and args.only is None else None)
    if output is not None:
        output.write_text(page)
        print(f"bench: wrote {output}", file=sys.stderr)
    return 0
