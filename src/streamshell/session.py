"""One running command: its process, its terminal (or pipes), its input queue and its output buffer.

Everything happens on the event loop: the output fd is watched with
``add_reader`` from the moment the child exists (so nothing it prints before the
first call is lost), input is written non-blocking with ``add_writer`` when the
process is not reading, and exit comes from the process's pidfd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import termios
import time
from collections.abc import Callable

from .buffer import Captured, OutputBuffer
from .errors import WriteError
from .process import ChildProcess
from .spawn import Spawned, set_window_size

READ_SIZE = 65536
"""Bytes asked for per read; a PTY hands out at most ~4 KiB at a time, a pipe up to 64 KiB."""

READS_PER_WAKEUP = 16
"""Reads per readiness callback before yielding to the loop, so one flood cannot starve others."""

WRITE_CHUNK = 4096
"""Bytes offered per write, so a PTY's input processing is never handed megabytes at once."""

MAX_PENDING_INPUT = 1 << 20
"""Input bytes a session queues for a process that is not reading; more is refused."""

log = logging.getLogger("streamshell")

CTRL_C = b"\x03"
CTRL_D = b"\x04"

OutputListener = Callable[[bytes], None]


class Session:
    """A command started by ``exec_command`` and addressed by later ``write_stdin`` calls."""

    def __init__(
        self,
        session_id: int,
        command: str,
        spawned: Spawned,
        *,
        tty: bool,
        window: int,
        drain_timeout: float,
    ) -> None:
        self.id = session_id
        self.command = command
        self.tty = tty
        self.pid = spawned.pid
        self.started_at = time.time()
        self.last_used = time.monotonic()
        self.lock = asyncio.Lock()
        """Held by the call that is collecting this session's output; calls take turns."""
        self.buffer = OutputBuffer(window)
        self.ended: str | None = None
        """Set when the manager has let go of the session: why later calls cannot use it."""

        self._loop = asyncio.get_running_loop()
        self._read_fd: int | None = spawned.read_fd
        self._write_fd: int | None = spawned.write_fd
        self._drain_timeout = drain_timeout
        self._listeners: list[OutputListener] = []
        self._input = bytearray()
        self._writing = False
        self._close_input_when_flushed = False
        self._eof = False
        self._done = False
        self._done_waiters: list[asyncio.Future[None]] = []
        self._drain_timer: asyncio.TimerHandle | None = None
        self._loop.add_reader(spawned.read_fd, self._on_readable)
        self.process = ChildProcess(spawned.pid, spawned.popen, self._on_exit)

    # ----- state -----------------------------------------------------------------------------

    @property
    def exit_code(self) -> int | None:
        """The leader's exit code once it has exited."""
        return self.process.returncode

    @property
    def done(self) -> bool:
        """Exited, and its output read to the end (or the drain wait ran out)."""
        return self._done

    @property
    def pending_input(self) -> int:
        """Input bytes queued but not yet accepted by the process."""
        return len(self._input)

    async def wait_done(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :attr:`done`; return it.

        A future that :meth:`_finish` or a timer resolves: ``asyncio.timeout`` around an
        ``Event.wait`` cost ~20 us more per call (its cancellation machinery), over 1% of
        a short ``exec_command`` (BENCHMARKS.md, spawn row).
        """
        if not self._done and timeout > 0:
            waiter = self._loop.create_future()
            self._done_waiters.append(waiter)
            timer = self._loop.call_later(timeout, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._done_waiters.remove(waiter)
        return self._done

    # ----- output ----------------------------------------------------------------------------

    def add_listener(self, listener: OutputListener) -> None:
        """Call ``listener`` with every chunk of output as it arrives."""
        self._listeners.append(listener)

    def remove_listener(self, listener: OutputListener) -> None:
        self._listeners.remove(listener)

    def pump(self) -> None:
        """Read what the kernel already holds, so a call returns everything printed so far."""
        if self._read_fd is not None and not self._eof:
            self._on_readable()

    def take(self, window: int) -> Captured:
        """Output since the last take; the buffer then keeps ``window`` bytes at each end.

        While more output can come, a character whose bytes have not all arrived stays
        for the next take, rather than turning into U+FFFD at the end of this one and
        the start of the next.
        """
        captured = self.buffer.take(keep_incomplete_char=not self._done)
        self.buffer.window = window
        return captured

    def _on_readable(self) -> None:
        fd = self._read_fd
        if fd is None:
            return
        for _ in range(READS_PER_WAKEUP):
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError:  # EIO: the last holder of the PTY's other side closed it
                data = b""
            if not data:
                self._on_eof()
                return
            self.buffer.append(data)
            for listener in self._listeners:
                try:
                    listener(data)
                except Exception:  # a display's bug must not stop the session's reading
                    log.exception("an output listener of session %d failed", self.id)

    def _on_eof(self) -> None:
        self._eof = True
        if self._read_fd is not None:
            self._loop.remove_reader(self._read_fd)
        if self.process.exited:
            self._finish()

    def _on_exit(self, code: int) -> None:
        """The leader exited: its output is complete at EOF, but a background child may hold
        the terminal open, so wait for EOF only ``drain_timeout`` seconds."""
        if self._eof:
            self._finish()
        else:
            self._drain_timer = self._loop.call_later(self._drain_timeout, self._finish)

    def _finish(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        self.pump()
        self._done = True
        for waiter in self._done_waiters:
            _resolve(waiter)

    # ----- input -----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the process and write as much as it accepts now, without blocking.

        On a PTY control characters go through the terminal (``\\x03`` interrupts the
        foreground job, ``\\x04`` ends a line-mode read). On pipes ``\\x03`` sends
        SIGINT to the process group and ``\\x04`` closes the process's stdin.
        Either way a Ctrl-C behind input the process has not read flushes that input,
        as a terminal does, so an interrupt always gets through.
        """
        closed = self._write_fd is None or self._close_input_when_flushed
        if CTRL_C in data and (self._input or closed or not self.tty) and self._signals_enabled():
            data = data[data.rindex(CTRL_C) + 1 :]
            self._input.clear()
            self._interrupt()
            if not data:
                return
        if closed:
            raise WriteError(f"the input of session {self.id} is closed")
        if not self.tty and CTRL_D in data and data[data.index(CTRL_D) + 1 :]:
            raise WriteError("nothing can follow \\u0004 on a session without a terminal: it closes stdin")
        if len(self._input) + len(data) > MAX_PENDING_INPUT:
            raise WriteError(
                f"{len(self._input)} bytes of earlier input are still waiting for session {self.id} to read "
                f"them; at most {MAX_PENDING_INPUT} bytes can be queued"
            )
        if not self.tty and CTRL_D in data:
            data = data[: data.index(CTRL_D)]
            self._close_input_when_flushed = True
        self._input += data
        self._flush_input()

    def _signals_enabled(self) -> bool:
        """Whether Ctrl-C means SIGINT: always on pipes; on a PTY unless the program set raw mode."""
        if not self.tty or self._write_fd is None:
            return True
        try:
            return bool(termios.tcgetattr(self._write_fd)[3] & termios.ISIG)
        except termios.error:
            return False

    def _interrupt(self) -> None:
        """SIGINT to the foreground job of the terminal, or to the session's group.

        The terminal has no foreground group (``tcgetpgrp`` says 0) once the leader has
        exited, and ``killpg(0)`` would signal *our* group: the session's own group
        (pinned by its unreaped leader) is the target then.
        """
        pgid = 0
        if self.tty and self._write_fd is not None:
            with contextlib.suppress(OSError):
                pgid = os.tcgetpgrp(self._write_fd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid if pgid > 0 else self.pid, signal.SIGINT)

    def _flush_input(self) -> None:
        fd = self._write_fd
        while self._input and fd is not None:
            try:
                written = os.write(fd, self._input[:WRITE_CHUNK])
            except BlockingIOError:
                if not self._writing:
                    self._loop.add_writer(fd, self._flush_input)
                    self._writing = True
                return
            except OSError:  # EIO / EPIPE: nobody will ever read it
                self._input.clear()
                break
            del self._input[:written]
        if self._writing and fd is not None:
            self._loop.remove_writer(fd)
            self._writing = False
        if self._close_input_when_flushed and fd is not None and not self.tty:
            self._write_fd = None
            os.close(fd)

    # ----- control ---------------------------------------------------------------------------

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal size (the foreground job gets SIGWINCH)."""
        if self._write_fd is not None:
            set_window_size(self._write_fd, rows, cols)

    async def terminate(self, grace: float) -> int:
        """Kill the session's process group (escalating) and return the exit code."""
        return await self.process.terminate(grace)

    def close(self) -> None:
        """Release the fds (closing a PTY master hangs up whatever still uses it)."""
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        if self._writing and self._write_fd is not None:
            self._loop.remove_writer(self._write_fd)
            self._writing = False
        if self._read_fd is not None:
            if not self._eof:
                self._loop.remove_reader(self._read_fd)
            os.close(self._read_fd)
        if self._write_fd is not None and self._write_fd != self._read_fd:
            os.close(self._write_fd)
        self._read_fd = self._write_fd = None
        self.process.release()
        self._done = True  # nothing more can arrive: a call still waiting must not wait on
        for waiter in self._done_waiters:
            _resolve(waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
