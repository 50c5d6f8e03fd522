"""decisions: engine design choices, each timed against the simpler way it replaced.

The engine's comments state these choices and their reasons; the figures live here:
- a call waits for its session with a future and a timer, not ``asyncio.timeout`` around an
  ``Event.wait`` (_engine/session.py, ``wait_done``);
- the C ``envp`` array is reused while the environment is unchanged (_engine/posix_spawn.py);
- the PTY is opened without opening its slave here (the child opens it by path);
- an absolute program path and the working directory are not checked before the spawn, only
  after a failure, to explain it (_engine/spawn.py).
Each sample is a batch of operations, so the timer's resolution does not matter.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections.abc import Awaitable, Callable

from streamshell._engine import posix_spawn

from .report import Row, spread, verdict
from .sizes import Sizes
from .stats import Timing, alternate, stopwatch, summarize

BATCH = 200
"""Operations per sample."""


async def _timeout_wait() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_soon(event.set)
    async with asyncio.timeout(10):
        await event.wait()


async def _future_wait() -> None:
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(10, waiter.cancel)
    loop.call_soon(waiter.set_result, None)
    try:
        await waiter
    finally:
        timer.cancel()


def _encode_envp(env: dict[str, str]) -> ctypes.Array[ctypes.c_char_p]:
    encoded = [os.fsencode(f"{k}={v}") for k, v in env.items()]
    return (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)


def _open_pty_both_ends() -> None:
    master, slave = os.openpty()
    os.ttyname(slave)
    os.close(slave)
    os.close(master)


def _open_pty_master_only(spawner: posix_spawn.PosixSpawn) -> None:
    master, _ = spawner.open_pty()
    os.close(master)


def _check_program(cwd: str, path: str) -> None:
    os.path.isdir(cwd)
    os.access(path, os.X_OK)
    os.path.exists(path)


def _batch(operation: Callable[[], object]) -> Callable[[], Awaitable[Timing]]:
    async def run() -> Timing:
        elapsed = stopwatch()
        for _ in range(BATCH):
            operation()
        return elapsed()

    return run


def _async_batch(operation: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[Timing]]:
    async def run() -> Timing:
        elapsed = stopwatch()
        for _ in range(BATCH):
            await operation()
        return elapsed()

    return run


async def _row(
    metric: str,
    floor_name: str,
    floor: Callable[[], Awaitable[Timing]],
    ours: Callable[[], Awaitable[Timing]],
    pairs: int,
) -> Row:
    floors, ourses = await alternate(floor, ours, pairs)
    f = summarize([t.wall / BATCH for t in floors])
    o = summarize([t.wall / BATCH for t in ourses])
    ratio = o.median / f.median
    return Row(
        metric=f"decisions: {metric}, per operation",
        floor=f"{spread(f, 'us', 1e6)}: {floor_name}",
        streamshell=spread(o, "us", 1e6),
        ratio=f"{ratio:.2f}x",
        target="≤ 1.00x",
        verdict=verdict(ratio <= 1.0),
    )


async def rows(sizes: Sizes) -> list[Row]:
    spawner = posix_spawn.load()
    if spawner is None:
        raise RuntimeError("the decisions benchmark needs libc's posix_spawn (Linux)")
    env, stored = dict(os.environ), dict(os.environ)
    cached = _encode_envp(env)
    pairs = sizes.write_stdin_pairs
    return [
        await _row(
            "a call's wait: future + timer",
            "asyncio.timeout around Event.wait",
            _async_batch(_timeout_wait),
            _async_batch(_future_wait),
            pairs,
        ),
        await _row(
            "the child's envp: reused while unchanged (dict equality check)",
            "encoded for every spawn",
            _batch(lambda: _encode_envp(env)),
            _batch(lambda: stored == env and cached),
            pairs,
        ),
        await _row(
            "a PTY: posix_openpt, the slave opened only in the child",
            "os.openpty + ttyname (both ends here)",
            _batch(_open_pty_both_ends),
            _batch(lambda: _open_pty_master_only(spawner)),
            pairs,
        ),
        await _row(
            "before a spawn of /bin/bash: no checks (they run only to explain a failure)",
            "isdir(cwd) + access + exists",
            _batch(lambda: _check_program(os.getcwd(), "/bin/bash")),
            _batch(lambda: None),
            pairs,
        ),
    ]
