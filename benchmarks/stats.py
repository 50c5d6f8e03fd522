"""Medians and spreads of repeated measurements, and the A B A B alternation that produces them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Summary:
    """Median and interquartile range of ``n`` samples (the whole range under 4 samples)."""

    median: float
    low: float
    high: float
    n: int


def summarize(samples: Sequence[float]) -> Summary:
    """Median and the 25th-75th percentile range (the whole range below 4 samples)."""
    if not samples:
        raise ValueError("no samples")
    if len(samples) < 4:
        return Summary(statistics.median(samples), min(samples), max(samples), len(samples))
    low, _, high = statistics.quantiles(samples, n=4)
    return Summary(statistics.median(samples), low, high, len(samples))


@dataclass(frozen=True)
class Timing:
    """Wall time and this process's CPU time (all its threads, not its children), in seconds."""

    wall: float
    cpu: float


def stopwatch() -> Callable[[], Timing]:
    """Start timing now; calling the result gives the time elapsed since."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: Timing(time.perf_counter() - wall, time.process_time() - cpu)


async def alternate(
    floor: Callable[[], Awaitable[T]], ours: Callable[[], Awaitable[T]], pairs: int, *, warm_up: bool = True
) -> tuple[list[T], list[T]]:
    """Run ``floor`` and ``ours`` in turn, ``pairs`` times each, after one discarded run of each
    (``warm_up``: imports, caches, helper processes).

    Interleaving one by one (A B A B, not A A B B) makes the machine's drift hit both sides alike.
    """
    if warm_up:
        await floor()
        await ours()
    floors: list[T] = []
    ourses: list[T] = []
    for _ in range(pairs):
        floors.append(await floor())
        ourses.append(await ours())
    return floors, ourses
