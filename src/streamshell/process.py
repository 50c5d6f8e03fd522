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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable

POLL_INTERVAL = 0.02
"""Seconds between exit polls where there is no pidfd."""

GROUP_POLL_INTERVAL = 0.01
"""Seconds between checks that a signalled process group has emptied."""

UNKNOWN_EXIT_CODE = 255
"""Reported when something else reaped our child before we could (a foreign ``waitpid(-1)``)."""


class ChildProcess:
    """A child that leads its own session and process group (``pgid == pid``)."""

    def __init__(
        self,
        pid: int,
        popen: subprocess.Popen[bytes] | None,
        on_exit: Callable[[int], None],
    ) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._popen = popen
        self._on_exit = on_exit
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._reaped = False
        self._pidfd: int | None = None
        self._poll_handle: asyncio.TimerHandle | None = None
        try:
            self._pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self._poll_handle = self._loop.call_later(POLL_INTERVAL, self._poll)
        else:
            self._loop.add_reader(self._pidfd, self._check)

    @property
    def exited(self) -> bool:
        return self.returncode is not None

    def _peek(self) -> int | None:
        """The exit code if the leader has ended, leaving it a zombie; else None.

        Death by signal N is 128+N, the shell's convention (the reference reported 1).
        """
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            self._reaped = True
            return UNKNOWN_EXIT_CODE
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else 128 + info.si_status

    def _check(self) -> None:
        code = self._peek()
        if code is None:
            return
        self._stop_watching()
        self.returncode = code
        self._exited.set_result(code)
        self._on_exit(code)

    def _poll(self) -> None:
        self._poll_handle = None
        self._check()
        if self.returncode is None:
            self._poll_handle = self._loop.call_later(POLL_INTERVAL, self._poll)

    def _stop_watching(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poll_handle is not None:
            self._poll_handle.cancel()
            self._poll_handle = None

    async def wait(self) -> int:
        """The exit code, once the leader has exited."""
        return await asyncio.shield(self._exited)

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to every process of the group; False when the group is gone."""
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def group_alive(self) -> bool:
        """Whether any process is left in the group (an exited, unreaped leader counts)."""
        return self.signal_group(0)

    def reap(self) -> None:
        """Reap the leader once it has exited (a zombie is reaped at once); the group's id is
        then pinned only by whatever else is left in the group."""
        if self.returncode is None or self._reaped:
            return
        self._reaped = True
        with contextlib.suppress(ChildProcessError):
            if self._popen is not None:
                self._popen.wait()
            else:
                os.waitpid(self.pid, 0)

    async def _group_gone_within(self, timeout: float) -> bool:
        deadline = self._loop.time() + timeout
        while True:
            self.reap()
            if self.exited and not self.group_alive():
                return True
            if self._loop.time() >= deadline:
                return False
            await asyncio.sleep(GROUP_POLL_INTERVAL)

    async def terminate(self, grace: float) -> int:
        """Kill the whole group: SIGHUP and SIGTERM (and SIGCONT for stopped jobs),
        then SIGKILL for whatever is left after ``grace`` seconds. Returns the leader's code.
        """
        if self.group_alive():
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGCONT):
                self.signal_group(sig)
            if not await self._group_gone_within(grace):
                self.signal_group(signal.SIGKILL)
        return await self.wait()

    def release(self) -> None:
        """The manager is done with this process: stop watching, reap the leader if it exited."""
        self._stop_watching()
        self.reap()
