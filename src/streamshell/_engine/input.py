"""Input for a session's process: queued, written without blocking, bounded, interruptible.

A process that is not reading its input must not block the event loop (a blocking write
to a PTY nobody reads hangs the writer), so input is queued (at most
:data:`MAX_PENDING_INPUT` bytes) and written in :data:`WRITE_CHUNK` pieces as the process
takes it, with ``add_writer`` while it does not.

The interrupt character is the terminal's own (``VINTR`` from its termios, so ``stty intr
^X`` is followed), and only while the terminal turns it into a signal (``ISIG``; raw-mode
programs read it as a byte). On pipes there is no terminal: ``\\x03`` sends SIGINT and
``\\x04`` closes the process's stdin. Either way an interrupt behind input the process has
not read flushes that input first, as a terminal does, so an interrupt always gets through.
"""

from __future__ import annotations

import asyncio
import os
import termios
from collections.abc import Callable

from ..errors import StdinClosedError, WriteError
from ..profiles import Profile

WRITE_CHUNK = 4096
"""Bytes offered per write, so a PTY's input processing is never handed megabytes at once."""

MAX_PENDING_INPUT = 1 << 20
"""Input bytes a session queues for a process that is not reading; more is refused."""

PIPE_INTERRUPT = b"\x03"
"""On pipes: sends SIGINT to the session's process group."""

PIPE_END_OF_INPUT = b"\x04"
"""On pipes: closes the process's stdin once what comes before it is written."""

POSIX_VDISABLE = b"\x00"
"""A control character set to this is switched off (Linux's ``_POSIX_VDISABLE``)."""


def terminal_interrupt(fd: int) -> bytes | None:
    """The character that interrupts the terminal's foreground job now, or None (raw mode)."""
    try:
        attributes = termios.tcgetattr(fd)
    except termios.error:
        return None
    character: bytes = attributes[6][termios.VINTR]
    if not attributes[3] & termios.ISIG or character == POSIX_VDISABLE:
        return None
    return character


class InputQueue:
    """The input side of a session: ``fd`` is the PTY master or the write end of stdin's pipe."""

    def __init__(
        self,
        fd: int,
        *,
        tty: bool,
        interrupt: Callable[[], None],
        session_id: int,
        profile: Profile = Profile.REFERENCE,
    ) -> None:
        self._fd: int | None = fd
        self._profile = profile
        self._tty = tty
        self._interrupt = interrupt
        self._session_id = session_id
        self._queue = bytearray()
        self._waiting_for_room = False
        self._close_when_flushed = False
        self._loop = asyncio.get_running_loop()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<InputQueue fd={self._fd} {state} pending={len(self._queue)}B>"

    @property
    def pending(self) -> int:
        """Bytes queued but not yet accepted by the process."""
        return len(self._queue)

    @property
    def fd(self) -> int | None:
        """The fd input goes to, while more input can come (None once closed)."""
        return None if self.closed else self._fd

    @property
    def closed(self) -> bool:
        """No more input can be queued (stdin closed by ``\\x04``, or the session released)."""
        return self._fd is None or self._close_when_flushed

    def write(self, data: bytes) -> None:
        """Queue ``data`` and write as much as the process accepts now, without blocking."""
        interrupt = self._interrupt_character()
        if interrupt is not None and interrupt in data and (self._queue or self.closed or not self._tty):
            data = data[data.rindex(interrupt) + 1 :]
            self._queue.clear()
            self._interrupt()
            if not data:
                return
        if self.closed:
            raise StdinClosedError(self._session_id, profile=self._profile)
        if len(data) > MAX_PENDING_INPUT:
            raise WriteError(
                f"the input is too large ({len(data)} bytes): at most {MAX_PENDING_INPUT} bytes can be queued"
            )
        if len(self._queue) + len(data) > MAX_PENDING_INPUT:
            raise WriteError(
                f"{len(self._queue)} bytes of earlier input are still waiting for session "
                f"{self._session_id} to read them; at most {MAX_PENDING_INPUT} bytes can be queued"
            )
        if not self._tty and PIPE_END_OF_INPUT in data:
            end = data.index(PIPE_END_OF_INPUT)
            if data[end + 1 :]:
                raise WriteError(
                    "nothing can follow \\u0004 on a session without a terminal: it closes stdin"
                )
            data = data[:end]
            self._close_when_flushed = True
        self._queue += data
        self._flush()

    def close(self) -> None:
        """Close a pipe's write end once what is queued is written (a terminal has no end of input)."""
        if not self._tty and self._fd is not None:
            self._close_when_flushed = True
            self._flush()

    def _interrupt_character(self) -> bytes | None:
        if not self._tty or self._fd is None:
            return PIPE_INTERRUPT
        return terminal_interrupt(self._fd)

    def _flush(self) -> None:
        fd = self._fd
        while self._queue and fd is not None:
            try:
                written = os.write(fd, self._queue[:WRITE_CHUNK])
            except BlockingIOError:
                if not self._waiting_for_room:
                    self._loop.add_writer(fd, self._flush)
                    self._waiting_for_room = True
                return
            except OSError:  # EIO / EPIPE: nobody will ever read it
                self._queue.clear()
                break
            del self._queue[:written]
        self._stop_waiting()
        if self._close_when_flushed and fd is not None and not self._tty:
            self._fd = None
            os.close(fd)

    def _stop_waiting(self) -> None:
        if self._waiting_for_room and self._fd is not None:
            self._loop.remove_writer(self._fd)
        self._waiting_for_room = False

    def release(self) -> int | None:
        """Stop writing; return the fd if it is still open, for its owner to close."""
        self._stop_waiting()
        fd, self._fd = self._fd, None
        return fd
