"""The table: one row per measured quantity, and the page around it (machine, Python, date)."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass

from .stats import Summary

MET = "met"
MISSED = "**MISSED**"
NOT_MEASURED = "n/a"


@dataclass(frozen=True)
class Row:
    """One line of the table; ``notes`` go under it (why a target was missed, a cap, a caveat)."""

    metric: str
    floor: str
    streamshell: str
    ratio: str
    target: str
    verdict: str
    notes: tuple[str, ...] = ()


def verdict(met: bool) -> str:
    return MET if met else MISSED


def spread(summary: Summary, unit: str = "ms", scale: float = 1000.0, digits: int = 2) -> str:
    """``1.52 ms (IQR 1.48-1.60, n=400)``: the median, then the middle half of the samples."""
    fmt = f"{{:.{digits}f}}"
    median, low, high = (fmt.format(v * scale) for v in (summary.median, summary.low, summary.high))
    label = "IQR" if summary.n >= 4 else "range"
    return f"{median} {unit} ({label} {low}-{high}, n={summary.n})"


RATE = ("MB/s", 1e-6, 1)
"""How a rate in bytes per second is shown."""
CPU_PER_MB = ("ms/MB", 1e9, 2)
"""How CPU seconds per byte are shown."""


def ratio_row(
    metric: str,
    floor: Summary,
    ours: Summary,
    *,
    floor_label: str = "",
    unit: tuple[str, float, int] = ("ms", 1000.0, 2),
    at_least: float | None = None,
    at_most: float | None = None,
    notes: tuple[str, ...] = (),
) -> Row:
    """A row whose figure is the ratio of the medians, ours over the floor's, held to ``at_least``
    (a rate) or ``at_most`` (a cost); ``floor_label`` says what the floor is."""
    ratio = ours.median / floor.median
    if at_least is not None:
        target, met = f"≥ {at_least:.2f}x", ratio >= at_least
    elif at_most is not None:
        target, met = f"≤ {at_most:.2f}x", ratio <= at_most
    else:
        raise ValueError("a ratio row needs at_least or at_most")
    shown = spread(floor, *unit)
    return Row(
        metric=metric,
        floor=f"{shown}: {floor_label}" if floor_label else shown,
        streamshell=spread(ours, *unit),
        ratio=f"{ratio:.2f}x",
        target=target,
        verdict=verdict(met),
        notes=notes,
    )


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on; ratios travel between machines, absolute times do not."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        ("Machine", f"{_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Load average at start", load),
    ]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _table_line(*cells: str) -> str:
    """A Markdown table line; a ``|`` inside a cell (a shell pipe) is escaped, even in code."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def size(n: float) -> str:
    """``1 GB``, ``205 MB``, ``1.5 MB``: decimal units, as throughput figures use."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.{0 if n >= 10 * scale else 1}f} {unit}"
    return f"{n:.0f} B"


def render(rows: Sequence[Row], header: Sequence[tuple[str, str]], run: str) -> str:
    """The whole page as Markdown; ``run`` names the size (full, quick, toy)."""
    lines = ["# Benchmarks", ""]
    lines.append(
        f"Written by `make bench` ({run} run). Floors and streamshell alternate in the same run; "
        "ratios are what carries over between machines. Spreads are the interquartile range "
        "(the whole range under 4 samples)."
    )
    lines.append("")
    lines += [f"- {name}: {value}" for name, value in header]
    lines += ["", "| metric | floor | streamshell | ratio | target | verdict |", "|---|---|---|---|---|---|"]
    lines += [_table_line(r.metric, r.floor, r.streamshell, r.ratio, r.target, r.verdict) for r in rows]
    notes = [note for r in rows for note in r.notes]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"
