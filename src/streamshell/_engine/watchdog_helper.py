"""The watchdog's helper process: kill the owner's process groups once the owner is gone.

Run by path as ``python -I -S watchdog_helper.py GRACE DRAIN_INTERVAL`` (isolated, no
site: it starts fast and imports nothing of streamshell's), in its own session, with a
pipe from the owner on stdin. The owner writes ``+PGID`` when a group starts and
``-PGID`` when it has killed one. When the pipe reaches EOF (the owner exited, however it
died) every group still listed gets SIGTERM, then SIGKILL after GRACE seconds.

The helper does not block in ``read``: a reader blocked on the pipe would be woken by every
line, two per session, competing with the sessions' own start-up for the CPU. It waits in
``poll`` for POLLHUP only, which writes do not wake (Linux wakes pollers by event), and
reads what piled up every DRAIN_INTERVAL seconds, long before the pipe buffer could fill;
EOF still wakes it at once. Where POLLHUP does not come, the periodic read sees the EOF.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

KILL_POLL_INTERVAL = 0.02
"""Seconds between checks that the signalled groups are gone."""


class Groups:
    """The owner's live process groups, as told over the pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.live: set[int] = set()
        self._partial = b""

    def drain(self) -> bool:
        """Apply every complete line the pipe holds; False once the owner has gone (EOF)."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                self._apply(line)

    def _apply(self, line: bytes) -> None:
        op, number = line[:1], line[1:]
        if not number.isdigit():
            return
        if op == b"+":
            self.live.add(int(number))
        elif op == b"-":
            self.live.discard(int(number))

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to every group; forget the groups that are gone."""
        for pgid in list(self.live):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                self.live.discard(pgid)
            except OSError:
                pass


def wait_for_owner(groups: Groups, drain_interval: float) -> None:
    """Return once the owner has closed its end of the pipe."""
    os.set_blocking(groups.fd, False)
    hangup = select.poll()
    hangup.register(groups.fd, 0)  # no events asked for: POLLHUP and POLLERR are always reported
    while groups.drain():
        hangup.poll(drain_interval * 1000)


def kill_all(groups: Groups, grace: float) -> None:
    """SIGTERM every group, then SIGKILL what is left after ``grace`` seconds."""
    groups.signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups.live and time.monotonic() < deadline:
        time.sleep(KILL_POLL_INTERVAL)
        groups.signal_all(0)
    groups.signal_all(signal.SIGKILL)


def main(argv: list[str]) -> int:
    grace, drain_interval = float(argv[1]), float(argv[2])
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups = Groups(0)
    wait_for_owner(groups, drain_interval)
    kill_all(groups, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
