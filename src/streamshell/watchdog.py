"""A watchdog process that kills a manager's process groups if the manager's process dies.

When the owner exits normally it kills its sessions itself. When it is killed
outright (SIGKILL, OOM killer) the kernel closes its PTY masters, which hangs up
the sessions; but a shell that ignores SIGHUP (``nohup``, ``trap '' HUP``) would
survive, and a parent-death signal (``PR_SET_PDEATHSIG``) needs code in the child
before exec, which ``posix_spawn`` cannot run, and only covers the direct child.

So each manager starts one small helper process in its own session. The manager
tells it, over a pipe, which process groups are live (``+PGID`` / ``-PGID``
lines). When the pipe reaches EOF (the owner is gone, however it died) the
helper sends SIGTERM to every group still listed, then SIGKILL, and exits.

The helper does not block in ``read``: a reader blocked on the pipe is woken by
every line, and those wake-ups (two per session, the helper's CPU competing with
the session's own start-up on a small machine) cost ~0.1 ms of a ~1.5 ms
``exec_command`` (BENCHMARKS.md, spawn row). It waits in ``poll`` for POLLHUP
only, which writes do not wake (Linux wakes pollers by event), and reads what
piled up every ``DRAIN_INTERVAL`` seconds, long before the 64 KiB pipe buffer
could fill (~7,000 lines); EOF still wakes it at once. Where POLLHUP does not
come, the periodic read sees the EOF.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time

DRAIN_INTERVAL = 0.5
"""Seconds between the helper's reads of its pipe while the owner lives."""

_HELPER = """
import os, select, signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
os.set_blocking(0, False)
hangup = select.poll()
hangup.register(0, 0)
groups = set()
pending = b""
def drain():
    global pending
    while True:
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        *lines, pending = (pending + chunk).split(b"\\n")
        for line in lines:
            op, pgid = line[:1], int(line[1:])
            (groups.add if op == b"+" else groups.discard)(pgid)
while drain():
    hangup.poll(float(sys.argv[2]) * 1000)
def signal_all(sig):
    for pgid in list(groups):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            groups.discard(pgid)
        except OSError:
            pass
signal_all(signal.SIGTERM)
deadline = time.monotonic() + float(sys.argv[1])
while groups and time.monotonic() < deadline:
    time.sleep(0.02)
    signal_all(0)
signal_all(signal.SIGKILL)
"""


class Watchdog:
    """The owner's side of the helper: register and unregister process groups."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._proc: subprocess.Popen[bytes] | None = None
        self._groups: set[int] = set()

    def _start(self) -> subprocess.Popen[bytes] | None:
        """Start the helper on first use (``-I -S``: isolated, no site: it starts in ~10 ms)."""
        try:
            return subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _HELPER, str(self._grace), str(DRAIN_INTERVAL)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return None

    def _send(self, line: bytes) -> None:
        """Tell the helper; one that died is replaced, and told every live group, not just this line."""
        for _ in range(2):
            if self._proc is None:
                self._proc = self._start()
                line = b"".join(b"+%d\n" % pgid for pgid in sorted(self._groups))
            if self._proc is None or self._proc.stdin is None or not line:
                return
            try:
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
                return
            except OSError:  # the helper was killed
                self._discard()

    def register(self, pgid: int) -> None:
        """Kill this group if the owner dies."""
        self._groups.add(pgid)
        self._send(b"+%d\n" % pgid)

    def unregister(self, pgid: int) -> None:
        """The group is gone (or being killed by the owner): forget it."""
        self._groups.discard(pgid)
        if self._proc is not None:
            self._send(b"-%d\n" % pgid)

    async def aclose(self) -> None:
        """Let the helper exit (the owner has killed its groups itself) and reap it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        await _reap(proc, self._grace + 2)

    def _discard(self) -> None:
        """Forget a helper that cannot be written to; it exits on EOF or dies with its pipe."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                proc.wait(timeout=1)


async def _reap(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for the helper without blocking the loop (it exits as soon as it reads EOF)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            deadline = float("inf")
        await asyncio.sleep(0.005)
