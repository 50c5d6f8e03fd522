"""What the kernel says about this process and the machine: memory, threads, file and PTY limits."""

from __future__ import annotations

import errno
import os
import resource
from dataclasses import dataclass


def status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``) or a count (``Threads``)."""
    with open("/proc/self/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0])
    raise KeyError(field)


def reset_peak_rss() -> None:
    """Make ``VmHWM`` start again from the current RSS (Linux >= 4.0), for a clean peak."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def raise_open_files_limit() -> None:
    """Raise the soft open-files limit to the hard one: a session holds 2 fds, and the soft
    limit is often 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass(frozen=True)
class PtyLimits:
    """``/proc/sys/kernel/pty``: the system-wide maximum, the share reserved for the host, in use now."""

    max: int
    reserve: int
    in_use: int

    @property
    def available(self) -> int:
        """PTYs a container can still open: a devpts instance of its own may not touch the reserve."""
        return max(0, self.max - self.reserve - self.in_use)


def pty_limits() -> PtyLimits:
    def read(name: str) -> int:
        with open(f"/proc/sys/kernel/pty/{name}") as f:
            return int(f.read())

    return PtyLimits(read("max"), read("reserve"), read("nr"))


def read_to_eof(fd: int, size: int = 65536) -> int:
    """Blocking reads from a PTY master until EOF (EIO on Linux once the slave is closed); bytes read."""
    total = 0
    while True:
        try:
            data = os.read(fd, size)
        except OSError as e:
            if e.errno == errno.EIO:
                return total
            raise
        if not data:
            return total
        total += len(data)


def child_pid(*words: str) -> int | None:
    """A child of this process that has every one of ``words`` among its arguments."""
    me = str(os.getpid())
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parent = f.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if parent == me and all(word in cmdline for word in words):
            return int(name)
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
