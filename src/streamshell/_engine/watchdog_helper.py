"""The watchdog's helper process: kill the owner's sessions once the owner is gone.

Run by path as ``python -I -S watchdog_helper.py GRACE DRAIN_INTERVAL`` (isolated, no
site: it starts fast and imports nothing of streamshell's), in its own session, with a
pipe from the owner on stdin. The owner writes one line per fact:

- ``+PGID`` when a session's process group starts, ``-PGID`` when it has killed it;
- ``+cPATH``: a cgroup v2 whose whole tree holds the owner's sessions (the cgroup mechanism);
- ``+mNAME=PREFIX``: every process whose environment has a ``NAME=PREFIX...`` entry is a
  session's (the subreaper mechanism's marker).

When the pipe reaches EOF (the owner exited, however it died) every listed group and every
marked process gets SIGTERM; after GRACE seconds whatever is left gets SIGKILL (each cgroup
through ``cgroup.kill``, at once), and the cgroups are removed once empty. So the watchdog
covers the same processes as the owner's own kill (:mod:`.containment`).

The helper does not block in ``read``: a reader blocked on the pipe would be woken by every
line, two per session, competing with the sessions' own start-up for the CPU. It waits in
``poll`` for POLLHUP only, which writes do not wake (Linux wakes pollers by event), and
reads what piled up every DRAIN_INTERVAL seconds, long before the pipe buffer could fill;
EOF still wakes it at once. Where POLLHUP does not come, the periodic read sees the EOF.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time

KILL_POLL_INTERVAL = 0.02
"""Seconds between checks that the signalled processes are gone."""

KILL_DEADLINE = 10.0
"""Seconds after SIGKILL to keep killing (forks in flight) and to wait for cgroups to empty."""


class Sessions:
    """The owner's sessions, as told over the pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.groups: set[int] = set()
        self.cgroups: set[str] = set()
        self.markers: set[bytes] = set()
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
        op, kind, rest = line[:1], line[1:2], line[2:]
        if kind == b"c" and op == b"+":
            self.cgroups.add(os.fsdecode(rest))
        elif kind == b"m" and op == b"+" and b"=" in rest:
            self.markers.add(rest)
        elif line[1:].isdigit():
            (self.groups.add if op == b"+" else self.groups.discard)(int(line[1:]))

    def signal_groups(self, sig: int) -> None:
        """Send ``sig`` to every group; forget the groups that are gone."""
        for pgid in list(self.groups):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                self.groups.discard(pgid)
            except OSError:
                pass

    def marked(self) -> list[int]:
        """Live processes carrying one of the markers (zombies have no environment to read)."""
        if not self.markers:
            return []
        found = []
        needles = [b"\0" + m for m in self.markers]
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    environ = b"\0" + f.read()
            except OSError:
                continue
            if any(n in environ for n in needles):
                found.append(int(name))
        return found

    def signal_marked(self, sig: int) -> None:
        for pid in self.marked():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def cgroup_members(self) -> list[int]:
        found: list[int] = []
        for root in self.cgroups:
            for directory, _, _ in os.walk(root):
                with contextlib.suppress(OSError), open(os.path.join(directory, "cgroup.procs")) as f:
                    found.extend(int(p) for p in f.read().split())
        return found

    def signal_cgroups(self, sig: int) -> None:
        for pid in self.cgroup_members():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)

    def kill_cgroups(self) -> None:
        for root in self.cgroups:
            with contextlib.suppress(OSError), open(os.path.join(root, "cgroup.kill"), "w") as f:
                f.write("1")

    def remove_cgroups(self) -> bool:
        """rmdir every cgroup, deepest first; False while one still holds processes."""
        removed = True
        for root in self.cgroups:
            for directory, _, _ in sorted(os.walk(root), key=lambda w: -w[0].count("/")):
                try:
                    os.rmdir(directory)
                except FileNotFoundError:
                    pass
                except OSError:
                    removed = False
        return removed

    def anything_left(self, *, groups: bool = True) -> bool:
        """Whether a listed group, a marked process or a cgroup member is left. Once SIGKILL is
        sent the groups are not asked: an orphan's zombie nobody reaps yet still counts in its
        group, while neither a zombie's environment nor ``cgroup.procs`` shows it."""
        if groups:
            self.signal_groups(0)
        return bool((groups and self.groups) or self.marked() or self.cgroup_members())


def wait_for_owner(sessions: Sessions, drain_interval: float) -> None:
    """Return once the owner has closed its end of the pipe."""
    os.set_blocking(sessions.fd, False)
    hangup = select.poll()
    hangup.register(sessions.fd, 0)  # no events asked for: POLLHUP and POLLERR are always reported
    while sessions.drain():
        hangup.poll(drain_interval * 1000)


def kill_all(sessions: Sessions, grace: float) -> None:
    """SIGTERM everything, then SIGKILL what is left after ``grace`` seconds, repeatedly while
    marked processes still fork; then remove the cgroups."""
    for sig in (signal.SIGTERM, signal.SIGCONT):
        sessions.signal_groups(sig)
        sessions.signal_marked(sig)
        sessions.signal_cgroups(sig)
    deadline = time.monotonic() + grace
    while sessions.anything_left() and time.monotonic() < deadline:
        time.sleep(KILL_POLL_INTERVAL)
    deadline = time.monotonic() + KILL_DEADLINE
    while True:
        sessions.kill_cgroups()
        sessions.signal_groups(signal.SIGKILL)
        sessions.signal_marked(signal.SIGKILL)
        if not sessions.anything_left(groups=False) and sessions.remove_cgroups():
            return
        if time.monotonic() > deadline:
            return
        time.sleep(KILL_POLL_INTERVAL)


def main(argv: list[str]) -> int:
    grace, drain_interval = float(argv[1]), float(argv[2])
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sessions = Sessions(0)
    wait_for_owner(sessions, drain_interval)
    kill_all(sessions, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
