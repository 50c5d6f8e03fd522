"""The leader of a session's process group: exit notification and group kill, without threads.

Exit is watched with a pidfd on the event loop (Linux >= 5.3). Python 3.11's
default child watcher starts one thread per child instead, and a SIGCHLD handler
would steal other code's children; where pidfds are missing the process is polled
with ``waitpid(pid, WNOHANG)`` on a timer, which only ever reaps our own pid.
"""

from __future__ import annotations

import asyncio
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


def exit_code_from_returncode(returncode: int) -> int:
    """Shell convention: death by signal N is 128+N (the reference reported 1)."""
    return 128 - returncode if returncode < 0 else returncode


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

    def _reap(self) -> int | None:
        """The exit code if the child has ended (reaping it), else None."""
        if self._popen is not None:
            status = self._popen.poll()
            return None if status is None else exit_code_from_returncode(status)
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return UNKNOWN_EXIT_CODE
        if pid == 0:
            return None
        return exit_code_from_returncode(os.waitstatus_to_exitcode(status))

    def _check(self) -> None:
        code = self._reap()
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
        """Whether any process (an unreaped leader included) is left in the group."""
        return self.signal_group(0)

    async def _group_gone_within(self, timeout: float) -> bool:
        deadline = self._loop.time() + timeout
        while self.returncode is None or self.group_alive():
            if self._loop.time() >= deadline:
                return False
            await asyncio.sleep(GROUP_POLL_INTERVAL)
        return True

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

    def close(self) -> None:
        """Stop watching (the manager is done with this process)."""
        self._stop_watching()
