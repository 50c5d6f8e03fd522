"""A watchdog process that kills the owner's sessions if the owner's process dies.

When the owner exits normally it kills its sessions itself. When it is killed
outright (SIGKILL, OOM killer) the kernel closes its PTY masters, which hangs up
the sessions; but a shell that ignores SIGHUP (``nohup``, ``trap '' HUP``) would
survive, and so would every process that left the session's group (``setsid``,
daemons). A parent-death signal (``PR_SET_PDEATHSIG``) needs code in the child before
exec, which ``posix_spawn`` cannot run, and would only cover the direct child.

So one small helper process (:mod:`.watchdog_helper`, run by path) is started in its own
session, on first use, per :class:`~.supervisor.Supervisor` (one per manager, or one shared
by an MCP server's managers). It is told over a pipe what to kill: once, how the
containment finds every session's processes (a cgroup tree, or a marker), and then each
live process group; when the pipe reaches EOF (the owner is gone, however it died) the
helper kills all of it.

The pipe is written without blocking: what the helper has not read yet waits in a
buffer, flushed when the pipe has room. The helper's exit is watched (a pidfd on the
event loop): one that dies, killed by a session's command say, is replaced at once and
told everything again. It runs with the sessions' filtered environment, not the owner's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import watchdog_helper

DRAIN_INTERVAL = 0.5
"""Seconds between the helper's reads of its pipe while the owner lives."""

EXIT_POLL_INTERVAL = 0.02
"""Seconds between checks that the helper has exited, where there are no pidfds."""

HELPER = Path(watchdog_helper.__file__)

log = logging.getLogger(__name__)


class Watchdog:
    """The owner's side of the helper: the standing lines (how to find every session's
    processes), then register and unregister process groups."""

    def __init__(self, grace: float, env: Mapping[str, str], standing: Sequence[bytes] = ()) -> None:
        self._grace = grace
        self._env = dict(env)
        self._standing = b"".join(standing)
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._pidfd: int | None = None
        self._pending = bytearray()
        self._waiting_for_room = False
        self._groups: set[int] = set()
        self._dead: list[subprocess.Popen[bytes]] = []
        """Helpers that died or were killed, reaped at :meth:`aclose`."""

    def __repr__(self) -> str:
        pid = self._proc.pid if self._proc is not None else None
        return f"<Watchdog helper={pid} groups={len(self._groups)} unsent={len(self._pending)}B>"

    def register(self, pgid: int) -> None:
        """Kill this group if the owner dies."""
        self._groups.add(pgid)
        self._send(b"+%d\n" % pgid)

    def unregister(self, pgid: int) -> None:
        """The group is gone (or being killed by the owner): forget it."""
        self._groups.discard(pgid)
        if self._proc is not None:
            self._send(b"-%d\n" % pgid)

    @property
    def pid(self) -> int | None:
        """The helper's pid while it runs."""
        return self._proc.pid if self._proc is not None else None

    async def aclose(self) -> None:
        """Let the helper exit (the owner has killed its groups itself) and reap it."""
        proc = self._proc
        self._stop_watching_helper()
        self._forget_pipe()
        self._proc = None
        if proc is not None:
            await _wait_exit(proc, self._grace + 2)
        for dead in self._dead:
            await _wait_exit(dead, self._grace + 2)
        self._dead.clear()

    def _start(self) -> bool:
        """Start the helper; False when it cannot be (out of processes or fds: sessions still die
        when their terminals hang up)."""
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(HELPER), str(self._grace), str(DRAIN_INTERVAL)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=self._env,
            )
        except OSError as e:
            log.warning("could not start the watchdog helper: %s", e)
            return False
        assert self._proc.stdin is not None
        self._fd = self._proc.stdin.fileno()
        os.set_blocking(self._fd, False)
        self._watch_helper()
        return True

    def _watch_helper(self) -> None:
        """Replace the helper as soon as it dies (where there are pidfds; else at the next write)."""
        assert self._proc is not None
        try:
            self._pidfd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self._replace)

    def _stop_watching_helper(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def _send(self, line: bytes) -> None:
        """Queue ``line`` for the helper and write what the pipe takes now."""
        if self._proc is None:
            if not self._start():
                return
            line = self._standing + b"".join(b"+%d\n" % pgid for pgid in sorted(self._groups))
        self._pending += line
        self._flush()

    def _flush(self) -> None:
        while self._pending and self._fd is not None:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                self._wait_for_room()
                return
            except OSError:  # EPIPE: the helper died
                self._replace()
                return
            del self._pending[:written]
        self._stop_waiting_for_room()

    def _wait_for_room(self) -> None:
        if not self._waiting_for_room and self._fd is not None:
            asyncio.get_running_loop().add_writer(self._fd, self._flush)
            self._waiting_for_room = True

    def _stop_waiting_for_room(self) -> None:
        if self._waiting_for_room and self._fd is not None:
            asyncio.get_running_loop().remove_writer(self._fd)
        self._waiting_for_room = False

    def _replace(self) -> None:
        """The helper died: start another one and tell it everything again."""
        proc = self._proc
        log.warning("the watchdog helper (pid %s) died; starting another", proc.pid if proc else None)
        self._stop_watching_helper()
        self._forget_pipe()
        self._proc = None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            self._dead.append(proc)
        self._send(b"")

    def _forget_pipe(self) -> None:
        self._stop_waiting_for_room()
        self._pending.clear()
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._fd = None


async def _wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for the helper to exit without blocking the loop (it exits on EOF); kill it after
    ``timeout`` seconds; reap it."""
    try:
        await asyncio.wait_for(_exited(proc), timeout)
    except TimeoutError:
        log.warning("the watchdog helper (pid %d) did not exit; killing it", proc.pid)
        proc.kill()
    proc.wait()


async def _exited(proc: subprocess.Popen[bytes]) -> None:
    """Return once ``proc`` has exited (a zombie counts), woken by its pidfd where there is one."""
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        while proc.poll() is None:
            await asyncio.sleep(EXIT_POLL_INTERVAL)
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
