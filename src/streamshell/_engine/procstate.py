"""What the kernel says a process is doing, read from ``/proc`` (Linux).

Whether a program waits for terminal input is not guessed from its output: the kernel
knows. ``/proc/PID/task/TID/syscall`` names the system call a sleeping thread is blocked
in, with its arguments (``running`` for a thread on or ready for a CPU); the fd sets of a
``select`` and the ``pollfd`` arrays of a ``poll`` are in the process's memory, readable
from ``/proc/PID/mem`` for our own descendants; ``/proc/PID/fdinfo/EPFD`` lists what an
epoll instance watches; ``/proc/PID/fd/N`` is the open file itself (stat gives its
device or pipe inode); ``schedstat`` counts the CPU time a thread ran, in nanoseconds.

Everything here reads; nothing blocks or signals. A process that vanishes or cannot
be inspected mid-way reads as "not known", never as an error.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

PROC = "/proc"
MAX_PROCESSES = 512
"""Processes walked in one session's tree at most (a fork bomb must not stall the probe)."""

POLLIN = 0x001
POLLRDNORM = 0x040
EPOLLIN = 0x001
_POLL_READ = POLLIN | POLLRDNORM
_POLLFD = struct.Struct("=ihh")
"""``struct pollfd``: int fd, short events, short revents."""


@dataclass(frozen=True)
class _Calls:
    """The system calls that wait for input, by kind, as numbered on one architecture."""

    read: frozenset[int]
    """First argument: the fd read from (read, readv, pread64, preadv, preadv2)."""
    select: frozenset[int]
    """Arguments: nfds, then the read fd set's address (select, pselect6)."""
    poll: frozenset[int]
    """Arguments: the pollfd array's address and its length (poll, ppoll)."""
    epoll: frozenset[int]
    """First argument: the epoll instance's fd (epoll_wait, epoll_pwait, epoll_pwait2)."""


_CALLS = {
    "x86_64": _Calls(
        read=frozenset({0, 17, 19, 295, 327}),
        select=frozenset({23, 270}),
        poll=frozenset({7, 271}),
        epoll=frozenset({232, 281, 441}),
    ),
    "aarch64": _Calls(
        read=frozenset({63, 65, 67, 69, 286}),
        select=frozenset({72}),
        poll=frozenset({73}),
        epoll=frozenset({22, 441}),
    ),
}
"""Per machine architecture (``uname -m``); elsewhere the probe is not available."""


def calls_here() -> _Calls | None:
    """The system call numbers of this machine, or None where the probe cannot work (no ``/proc``
    with ``syscall`` files, as on macOS, or an architecture not listed)."""
    calls = _CALLS.get(platform.machine())
    if calls is None or not _has_syscall_files():
        return None
    return calls


@functools.cache
def _has_syscall_files() -> bool:
    """Whether ``/proc`` has ``syscall`` files: a fact of the kernel, looked up once (a stat per
    probe made was a stat per waiting call)."""
    return os.path.exists(f"{PROC}/self/syscall")


class Running:
    """A thread that is on a CPU or ready for one: it is not waiting for anything."""


RUNNING = Running()


@dataclass(frozen=True)
class Blocked:
    """A sleeping thread: the system call it sleeps in and its first arguments."""

    number: int
    args: tuple[int, ...]


@dataclass(frozen=True)
class Thread:
    """One thread as sampled: what it is blocked in (or RUNNING), and the CPU time it has run."""

    tid: int
    call: Blocked | Running | None
    """None: not in a system call (a zombie, a stopped thread) or not readable."""
    cpu_ns: int


def _read(path: str) -> str | None:
    """A ``/proc`` file's text, read with ``os.read`` until its end (a buffered file object costs
    an fstat, an isatty ioctl and its objects, for every file of every probe); None if unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("ascii", "replace")


def stat_fields(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command name: [state, ppid, pgrp, session, ...]; None if gone."""
    text = _read(f"{PROC}/{pid}/stat")
    if text is None:
        return None
    return text[text.rindex(")") + 2 :].split()


def tree(leader: int) -> list[int]:
    """``leader`` and its descendants that still exist (at most :data:`MAX_PROCESSES`)."""
    found = [leader]
    i = 0
    while i < len(found) and len(found) < MAX_PROCESSES:
        pid = found[i]
        i += 1
        for tid in threads(pid):
            children = _read(f"{PROC}/{pid}/task/{tid}/children")
            if children:
                found.extend(int(c) for c in children.split())
    return found[:MAX_PROCESSES]


def threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"{PROC}/{pid}/task")]
    except OSError:
        return []


def _blocked_call(pid: int, tid: int) -> Blocked | Running | None:
    text = _read(f"{PROC}/{pid}/task/{tid}/syscall")
    if text is None:
        return None
    words = text.split()
    if not words or words[0] == "running":
        return RUNNING
    number = int(words[0])
    if number < 0:  # blocked, but not in a system call
        return None
    return Blocked(number, tuple(int(w, 16) for w in words[1:7]))


def _cpu_ns(pid: int, tid: int) -> int:
    text = _read(f"{PROC}/{pid}/task/{tid}/schedstat")
    return int(text.split()[0]) if text else 0


def sample_threads(pid: int) -> list[Thread]:
    """Every thread of ``pid``: its blocking call and CPU time."""
    return [Thread(tid, _blocked_call(pid, tid), _cpu_ns(pid, tid)) for tid in threads(pid)]


FileTest = Callable[[os.stat_result], bool]
"""Whether an open file is the one watched (the session's terminal, or its stdin pipe)."""


def terminal_test(rdevs: frozenset[int]) -> FileTest:
    """A character device with one of ``rdevs`` (the PTY's slave, ``/dev/tty``)."""
    return lambda st: stat.S_ISCHR(st.st_mode) and st.st_rdev in rdevs


def pipe_test(inode: int) -> FileTest:
    """The pipe with inode ``inode``."""
    return lambda st: stat.S_ISFIFO(st.st_mode) and st.st_ino == inode


def _fd_is(pid: int, fd: int, test: FileTest) -> bool:
    try:
        return test(os.stat(f"{PROC}/{pid}/fd/{fd}"))
    except OSError:
        return False


@contextlib.contextmanager
def _memory(pid: int) -> Iterator[int]:
    fd = os.open(f"{PROC}/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _read_memory(pid: int, address: int, size: int) -> bytes | None:
    if address == 0 or size <= 0:
        return None
    try:
        with _memory(pid) as fd:
            data = os.pread(fd, size, address)
    except OSError:
        return None
    return data if len(data) == size else None


def _set_bits(data: bytes, limit: int) -> Iterator[int]:
    """The fds marked in an fd set (a little-endian bit array), below ``limit``."""
    for index, byte in enumerate(data):
        while byte:
            low = byte & -byte
            fd = index * 8 + low.bit_length() - 1
            if fd >= limit:
                return
            yield fd
            byte ^= low


def _select_reads(pid: int, args: tuple[int, ...], test: FileTest) -> bool:
    nfds, readfds = args[0], args[1]
    if nfds <= 0 or nfds > 1 << 20:
        return False
    data = _read_memory(pid, readfds, (nfds + 63) // 64 * 8)
    return data is not None and any(_fd_is(pid, fd, test) for fd in _set_bits(data, nfds))


def _poll_reads(pid: int, args: tuple[int, ...], test: FileTest) -> bool:
    address, count = args[0], args[1]
    if count <= 0 or count > 1 << 16:
        return False
    data = _read_memory(pid, address, count * _POLLFD.size)
    if data is None:
        return False
    return any(
        fd >= 0 and events & _POLL_READ and _fd_is(pid, fd, test)
        for fd, events, _ in _POLLFD.iter_unpack(data)
    )


def _epoll_reads(pid: int, epfd: int, test: FileTest) -> bool:
    text = _read(f"{PROC}/{pid}/fdinfo/{epfd}")
    if text is None:
        return False
    for line in text.splitlines():
        words = line.split()  # "tfd: 5 events: 19 data: ..."
        watched = len(words) >= 4 and words[0] == "tfd:" and words[2] == "events:"
        if watched and int(words[3], 16) & EPOLLIN and _fd_is(pid, int(words[1]), test):
            return True
    return False


def waits_to_read(calls: _Calls, pid: int, call: Blocked, test: FileTest) -> bool:
    """Whether ``call`` (a thread of ``pid`` blocked in it) waits for the watched file to be readable."""
    if call.number in calls.read:
        return _fd_is(pid, call.args[0], test)
    if call.number in calls.select:
        return _select_reads(pid, call.args, test)
    if call.number in calls.poll:
        return _poll_reads(pid, call.args, test)
    if call.number in calls.epoll:
        return _epoll_reads(pid, call.args[0], test)
    return False
