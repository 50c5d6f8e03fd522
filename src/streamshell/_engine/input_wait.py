"""Whether a session's program waits for input, from the kernel's state, and the watch that asks
while a call waits.

On a terminal, the program is the terminal's foreground process group (``tcgetpgrp`` on the
master); on pipes, every process of the session. It waits for input when none of its
threads runs and at least one sleeps in a system call that waits for the watched file to
become readable: ``read`` on it, ``select``/``poll`` with it in the read set, ``epoll_wait``
on an epoll instance that watches it (:mod:`.procstate`). On a terminal ``/dev/tty`` counts
as the terminal. Input that the program has not taken yet (queued by us, in the pipe, or in
the terminal's line discipline) means it is not waiting: it is about to read.

A call must not return while the program is between two writes of one prompt, so a state
counts only once it is seen twice, :data:`CONFIRM_DELAY` apart, with the same threads in the
same calls, no CPU time run in between and no output arrived in between. The watch probes
only while a call waits: soon after the call starts and after each burst of output (a prompt
is printed just before the program blocks), backing off from :data:`FIRST_INTERVAL` to
:data:`MAX_INTERVAL` while nothing happens, and never spending more than :data:`PROBE_SHARE` of
the loop's time on it.

A setuid program (``sudo``, ``su``) cannot be inspected by an unprivileged owner; it counts as
reading the terminal when it sleeps while the terminal is in a password prompt's mode
(canonical, no echo). Where ``/proc`` has no ``syscall`` files (macOS) nothing is probed and
no call returns early (:func:`.procstate.calls_here`).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import logging
import os
import select
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import procstate
from .procstate import RUNNING, Blocked, FileTest

FIRST_INTERVAL = 0.001
"""Seconds from a call's start (or its input) to the first probe, and after output to the next."""
MAX_INTERVAL = 0.025
"""The longest gap between probes while a call waits and nothing is printed."""
CONFIRM_DELAY = 0.002
"""Seconds between the two samples that must agree."""
PROBE_SHARE = 1 / 40
"""At most this share of the event loop's time goes to probing: after a probe that took d seconds,
the next one (but for a confirmation) waits at least d / PROBE_SHARE. A flood of output with short
pauses must not turn into a probe per pause (BENCHMARKS.md, raw throughput row)."""

TIOCGPTPEER = 0x5441
"""Open the PTY's other side from the master (Linux >= 4.13)."""
DEV_TTY = os.makedev(5, 0)
"""``/dev/tty``: a process's controlling terminal, whichever it is."""

log = logging.getLogger(__name__)

Sample = tuple[tuple[int, int, object, int], ...]
"""What a positive probe saw: (pid, tid, call, CPU ns) of every thread examined."""


def _peer(master: int) -> int:
    """A new fd on the PTY's other side, which no process gets as its controlling terminal."""
    flags = os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
    return fcntl.ioctl(master, TIOCGPTPEER, flags)


def _readable_now(fd: int) -> bool:
    """Whether input waits to be read on ``fd``. Polling a terminal first hands what was written to
    it to its line discipline, so input still in flight counts."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def _bytes_in_pipe(fd: int) -> int:
    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return buf[0]


@dataclass
class _Scope:
    """The processes to examine and what they must be waiting on."""

    pids: list[int]
    test: FileTest


class InputWaitProbe:
    """One session's answer to "does the program wait for input now?".

    ``master`` gives the PTY master while the session holds it (None on pipes); ``stdin``
    the write end of the stdin pipe while it is open; ``pending`` the input bytes we still
    hold for the process. They are asked each time: a released fd number may be reused.

    What the program must wait on (the terminal's device, or the pipe's inode) is learnt at the
    first sample, from the fd that sample opens or holds anyway: a call whose program exits
    before the first probe (most short commands) costs no system call here.
    """

    def __init__(
        self,
        leader: int,
        *,
        master: Callable[[], int | None] | None,
        stdin: Callable[[], int | None],
        pending: Callable[[], int],
    ) -> None:
        self._calls = procstate.calls_here()
        self._leader = leader
        self._master = master
        self._stdin = stdin
        self._pending = pending
        self._test: FileTest | None = None
        self._usable = self._calls is not None and (master is not None or stdin() is not None)

    def __repr__(self) -> str:
        where = "unavailable" if not self._usable else "pty" if self._master is not None else "pipe"
        return f"<InputWaitProbe leader={self._leader} {where}>"

    @property
    def available(self) -> bool:
        """Whether this session can be probed at all (Linux with ``/proc``, and the session's
        terminal or stdin could be looked at)."""
        return self._usable

    def sample(self) -> Sample | None:
        """What the waiting program looks like now, or None when it does not wait for input."""
        if not self._usable or self._pending():
            return None
        try:
            scope = self._scope()
        except OSError:
            return None
        if scope is None:
            return None
        return self._examine(scope)

    def _scope(self) -> _Scope | None:
        if self._master is None:
            fd = self._stdin()
            if fd is None:
                return None
            if self._test is None:
                self._test = procstate.pipe_test(os.fstat(fd).st_ino)
            if _bytes_in_pipe(fd):
                return None
            return _Scope(procstate.tree(self._leader), self._test)
        master = self._master()
        if master is None:
            return None
        foreground = os.tcgetpgrp(master)
        if foreground <= 0:
            return None
        members = []
        for pid in procstate.tree(self._leader):
            fields = procstate.stat_fields(pid)
            if fields is not None and int(fields[2]) == foreground:
                if fields[0] == "R":  # running: not waiting (known before the peer is opened)
                    return None
                members.append(pid)
        peer = self._terminal_peer(master)
        try:
            if _readable_now(peer):
                return None
        finally:
            os.close(peer)
        assert self._test is not None
        return _Scope(members, self._test)

    def _terminal_peer(self, master: int) -> int:
        """A new fd on the terminal's other side; the first one tells what the program must wait
        on. When none can be opened (Linux < 4.13) the probe gives up for good."""
        try:
            peer = _peer(master)
        except OSError as e:
            if self._test is None:
                log.debug("pid %d: cannot watch for input waits: %s", self._leader, e)
                self._usable = False
            raise
        if self._test is None:
            try:
                rdev = os.fstat(peer).st_rdev
            except OSError:
                os.close(peer)
                raise
            self._test = procstate.terminal_test(frozenset({rdev, DEV_TTY}))
        return peer

    def _examine(self, scope: _Scope) -> Sample | None:
        assert self._calls is not None
        seen: list[tuple[int, int, object, int]] = []
        readers = 0
        for pid in scope.pids:
            fields = procstate.stat_fields(pid)
            if fields is None or fields[0] in "ZXT":  # gone, a zombie, or stopped: reads nothing
                continue
            if fields[0] == "R":
                return None
            threads = procstate.sample_threads(pid)
            if any(t.call is RUNNING for t in threads):
                return None
            reads = any(
                isinstance(t.call, Blocked) and procstate.waits_to_read(self._calls, pid, t.call, scope.test)
                for t in threads
            )
            if not reads and all(t.call is None for t in threads):
                reads = self._password_prompt()
            readers += reads
            seen += [(pid, t.tid, t.call, t.cpu_ns) for t in threads]
        return tuple(seen) if readers else None

    def _password_prompt(self) -> bool:
        """For a process we may not inspect (setuid): is the terminal in a password prompt's mode?"""
        master = self._master() if self._master is not None else None
        if master is None:
            return False
        with contextlib.suppress(termios.error):
            lflag = termios.tcgetattr(master)[3]
            return bool(lflag & termios.ICANON) and not lflag & termios.ECHO
        return False


def _describe(sample: Sample) -> str:
    """A sample for a log line: ``pid/tid in call N`` per thread."""
    return ", ".join(
        f"{pid}/{tid} in {call.number if isinstance(call, Blocked) else '?'}" for pid, tid, call, _ in sample
    )


class InputWaitWatch:
    """Probes one session while one call waits, and calls ``on_waiting`` once the program is seen
    waiting for input twice in a row (see the module's docstring for the schedule)."""

    def __init__(self, probe: InputWaitProbe, on_waiting: Callable[[], None]) -> None:
        self._probe = probe
        self._on_waiting = on_waiting
        self._loop = asyncio.get_running_loop()
        self._interval = FIRST_INTERVAL
        self._first: Sample | None = None
        self._outputs = 0
        """Output chunks read while the call waits."""
        self._last_output = -1.0
        self._outputs_at_first = 0
        self._armed = False
        """The next output is the first after a quiet look: it brings the next probe forward."""
        self._due = 0.0
        self._earliest = 0.0
        """When the next probe may run (the cost limit)."""
        self._flowing = 0.0
        """How long to wait before looking again while output keeps flowing (backs off too)."""
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self.confirmed = False
        """The program was seen waiting for input (``on_waiting`` was called)."""
        self._schedule(FIRST_INTERVAL)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "confirming" if self._first else "probing"
        return f"<InputWaitWatch {state} interval={self._interval * 1000:.0f}ms>"

    def output_arrived(self, data: bytes) -> None:
        """An output listener: the state may have changed (a prompt comes just before a block).

        Runs for every chunk read, so it only notes the time; the first chunk after a quiet look
        brings the next probe forward to :data:`FIRST_INTERVAL` from now."""
        self._outputs += 1
        self._last_output = now = self._loop.time()
        if self._armed:
            self._armed = False
            soonest = max(now + FIRST_INTERVAL, self._earliest)
            if self._due > soonest:
                self._schedule(soonest - now)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._due = self._loop.time() + delay
        self._timer = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self._closed:
            return
        quiet_since = self._loop.time() - self._last_output
        if quiet_since < FIRST_INTERVAL:  # output is still flowing: look again once it pauses
            self._first = None
            self._schedule(max(FIRST_INTERVAL - quiet_since, self._flowing))
            self._flowing = min(max(self._flowing * 2, FIRST_INTERVAL), MAX_INTERVAL)
            return
        self._flowing = 0.0
        started = time.perf_counter()
        sample = self._probe.sample()
        if not self._probe.available:  # it turned out it cannot be probed: nothing will confirm
            self.close()
            return
        cost = (time.perf_counter() - started) / PROBE_SHARE
        self._earliest = self._loop.time() + cost
        if sample is None:
            self._first = None
            self._armed = True
            self._schedule(max(self._interval, cost))
            self._interval = min(self._interval * 2, MAX_INTERVAL)
        elif self._first == sample and self._outputs == self._outputs_at_first:
            log.debug("%r: waits for input: %s", self._probe, _describe(sample))
            self.close()
            self.confirmed = True
            self._on_waiting()
        else:
            self._first, self._outputs_at_first = sample, self._outputs
            self._armed = True
            self._schedule(CONFIRM_DELAY)
