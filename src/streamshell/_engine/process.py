"""The leader of a session's process group: exit notification and group kill, without threads.

Exit is watched with a pidfd on the event loop (Linux >= 5.3). Python 3.11's
default child watcher starts one thread per child instead, and a SIGCHLD handler
would steal other code's children; where pidfds are missing the process is polled
with ``waitid(pid)`` on a timer, which only ever looks at our own pid.

The leader is not reaped when it exits (``WNOWAIT``): as a zombie it keeps its pid,
and with it the group's id, from being reused while the session can still be
addressed. Signalling a group by id after its leader was reaped could hit an
unrelated group that got the recycled number (pid_max is often only 32768, and
every session leads its own group). It is reaped when the session is let go.

The exit is kept as the kernel reports it, an exit status or a signal number
(:meth:`Exited.from_wait`); folding a signal into 128+N is the result's business.

Processes that left the group (``setsid``, daemons) are the :class:`~.containment.Cell`'s:
the process is done when the leader has exited and neither its group nor its cell holds
anything, and killing it kills both. Once the leader is reaped and its group seen empty,
the group id is never signalled again (the number may be reused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Callable

from ..results import Exited
from .containment import Cell

POLL_INTERVAL = 0.02
"""Seconds between exit polls where there is no pidfd."""

GROUP_POLL_INTERVAL = 0.01
"""Seconds between checks that a signalled process group has emptied."""

KILL_WAIT = 10.0
"""Seconds to keep SIGKILLing what is left (a daemon forking as fast as it is killed) before
giving up; a cgroup's ``cgroup.kill`` needs one round."""

log = logging.getLogger(__name__)

UNKNOWN_EXIT_STATUS = 255
"""Reported when something else reaped our child before we could (a foreign ``waitpid(-1)``)."""


class ChildProcess:
    """A child that leads its own session and process group (``pgid == pid``)."""

    def __init__(
        self,
        pid: int,
        popen: subprocess.Popen[bytes] | None,
        on_exit: Callable[[Exited], None],
        cell: Cell | None = None,
    ) -> None:
        self.pid = pid
        self.cell = cell if cell is not None else Cell()
        self.exit: Exited | None = None
        """How the leader ended, once it has."""
        self._popen = popen
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[Exited] | None = None
        """Made by the first :meth:`wait` before the exit (a kill waits; most sessions never do)."""
        self._reaped = False
        self._group_gone = False
        self._pidfd: int | None = None
        self._poll_handle: asyncio.TimerHandle | None = None
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._poll_handle = self._loop.call_later(POLL_INTERVAL, self._poll)
        else:
            self._loop.add_reader(self._pidfd, self._check)

    def __repr__(self) -> str:
        state = "running" if self.exit is None else repr(self.exit)
        return f"<ChildProcess pid={self.pid} {state}{' reaped' if self._reaped else ''}>"

    @property
    def exited(self) -> bool:
        return self.exit is not None

    def _peek(self) -> Exited | None:
        """How the leader ended, leaving it a zombie; None while it runs."""
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            self._reaped = True
            return Exited(UNKNOWN_EXIT_STATUS)
        if info is None:
            return None
        if info.si_code == os.CLD_EXITED:
            return Exited.from_wait(info.si_status, None)
        return Exited.from_wait(None, info.si_status)

    def _check(self) -> None:
        exit = self._peek()
        if exit is None:
            return
        self._stop_watching()
        self.exit = exit
        if self._exited is not None:
            self._exited.set_result(exit)
        self._on_exit(exit)

    def _poll(self) -> None:
        self._poll_handle = None
        self._check()
        if self.exit is None:
            self._poll_handle = self._loop.call_later(POLL_INTERVAL, self._poll)

    def _stop_watching(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poll_handle is not None:
            self._poll_handle.cancel()
            self._poll_handle = None

    async def wait(self) -> Exited:
        """How the leader ended, once it has."""
        if self.exit is not None:
            return self.exit
        if self._exited is None:
            self._exited = self._loop.create_future()
        return await asyncio.shield(self._exited)

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to every process of the group; False when the group is gone."""
        if self._group_gone:
            return False
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            self._group_gone = self._reaped  # nothing pins the id any more: never signal it again
            return False
        except PermissionError:
            return True
        return True

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to the group and to everything in the cell."""
        self.signal_group(sig)
        self.cell.signal(sig)

    def kill_now(self) -> None:
        """SIGKILL the group and the cell, without waiting."""
        self.signal_group(signal.SIGKILL)
        self.cell.kill()

    def group_alive(self) -> bool:
        """Whether any process is left in the group (an exited, unreaped leader counts)."""
        return self.signal_group(0)

    def reap(self) -> None:
        """Reap the leader once it has exited (a zombie is reaped at once); the group's id is
        then pinned only by whatever else is left in the group."""
        if self.exit is None or self._reaped:
            return
        self._reaped = True
        with contextlib.suppress(ChildProcessError):
            if self._popen is not None:
                self._popen.wait()
            else:
                os.waitpid(self.pid, 0)

    def _reap_adopted(self) -> None:
        """Reap exited children of ours left in the group once the leader is reaped: a
        subreaper adopts the group's orphans (a sandbox's bwrap, whose parent exited first), and
        an unreaped zombie would keep the group alive for ever."""
        if not self._reaped:
            return
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-self.pid, os.WNOHANG)[0] > 0:
                pass

    def finished(self) -> bool:
        """Reap the leader if it exited (and adopted zombies of its group); whether the leader has
        exited and neither its group nor its cell holds anything."""
        self.reap()
        self._reap_adopted()
        return self.exited and not self.group_alive() and not self.cell.occupied()

    async def _gone_within(self, timeout: float, sig: int | None = None) -> bool:
        """Wait up to ``timeout`` seconds for :meth:`finished`, sending ``sig`` to what is left
        at each check (forks in flight get it too)."""
        deadline = self._loop.time() + timeout
        while not self.finished():
            if self._loop.time() >= deadline:
                return False
            if sig == signal.SIGKILL:
                self.kill_now()
            await asyncio.sleep(GROUP_POLL_INTERVAL)
        return True

    async def terminate(self, grace: float) -> Exited:
        """Kill the whole group and the cell: SIGHUP to the group, SIGTERM (and SIGCONT for
        stopped jobs) to all, then SIGKILL for whatever is left after ``grace`` seconds, until
        nothing is. Returns how the leader ended.
        """
        if self.group_alive() or self.cell.occupied():
            self.signal_group(signal.SIGHUP)
            for sig in (signal.SIGTERM, signal.SIGCONT):
                self.signal_all(sig)
            if not await self._gone_within(grace):
                self.kill_now()
                if not await self._gone_within(KILL_WAIT, signal.SIGKILL):
                    logging.getLogger(__name__).warning(
                        "%r: processes survived SIGKILL for %s s", self, KILL_WAIT
                    )
        return await self.wait()

    def release(self) -> bool:
        """The manager is done with this process: stop watching, reap the leader if it exited,
        and let go of the cell; False when the cell still holds processes (they are dying)."""
        self._stop_watching()
        self.reap()
        return self.cell.release()
