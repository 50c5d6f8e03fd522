"""One running command: its process, its terminal (or pipes), its input and its output.

Everything happens on the event loop: the output fd is watched with ``add_reader`` from
the moment the child exists (so nothing it prints before the first call is lost), input
is written without blocking (:mod:`.input`), and exit comes from the process's pidfd.

A session is a small state machine:

==========  ==================================================  ===========================
state       meaning                                             left by
==========  ==================================================  ===========================
RUNNING     the leader runs; output is read as it comes          leader exit -> EXITED, or
                                                                 -> DONE if at EOF already
EXITED      the leader exited (a zombie, pinning the group id);  EOF or ``drain_timeout``
            what it printed last is still being read             -> DONE
DONE        exited, output complete: the next call reports it    :meth:`retire`
RETIRED     let go by the manager (exit reported, killed,        (final)
            pruned, closed): calls get ``ended``; the fds close
            once the group is dead (:meth:`dispose`)
==========  ==================================================  ===========================

Any state may go to RETIRED. The reader's end of file is tracked apart from the state:
a background child can hold the terminal open after the leader exits (EXITED without
EOF), and a leader can close its output before it exits (RUNNING at EOF).

The manager drives a session only through its methods: :meth:`call` (take a turn),
:meth:`stream_to`, :meth:`write`, :meth:`wait_done` / :meth:`wait_call`, :meth:`take`,
:meth:`show_screen`, :meth:`watch`, :meth:`retire`, :meth:`dispose`; it never touches the buffer or
the process.

While a call waits (:meth:`wait_call`) it may end early: on exit, when the output matches the
call's ``wait_for`` (:mod:`.matching`), or when the program waits for input
(:mod:`.input_wait`, probed only while a call waits). A session that was once asked for its
screen keeps a terminal emulator fed with its output (:mod:`.screen`).

Every byte read, every input written and every resize also goes to the session's recorder, when
its manager records casts (:mod:`.transcripts`), and to the people watching it (:mod:`.watch`),
who first get its screen as it is, drawn from its newest output (:class:`.screen.RecentOutput`).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import enum
import functools
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator

from ..errors import SessionEndedError
from ..profiles import Profile
from ..results import Exited, SessionInfo
from .buffer import Captured, OutputBuffer, dropped_marker
from .input import InputQueue
from .input_wait import InputWaitProbe, InputWaitWatch
from .matching import MatchWatch, OutputMatcher
from .process import ChildProcess
from .screen import RecentOutput, TerminalScreen
from .spawn import COLS, ROWS, Spawned, set_window_size
from .transcripts import Recorder
from .watch import ScreenShot, Watch

READ_SIZE = 65536
"""Bytes asked for per read; a PTY hands out at most a page at a time, a pipe up to 64 KiB."""

READS_PER_WAKEUP = 16
"""Reads per readiness callback before yielding to the loop, so one flood cannot starve others."""

log = logging.getLogger(__name__)

OutputListener = Callable[[bytes], None]
OutputCallback = Callable[[str], None]


class CallEnd(enum.Enum):
    """Why :meth:`Session.wait_call` returned (compared, never shown: the values mean nothing)."""

    DONE = enum.auto()
    """The process exited and its output is complete."""
    MATCHED = enum.auto()
    """The output matched the call's ``wait_for``."""
    INPUT_WAIT = enum.auto()
    """The program waits for input."""
    YIELD = enum.auto()
    """The time ran out."""


class State(enum.Enum):
    """A session's life (the module docstring draws it); the value is what ``repr`` shows."""

    RUNNING = "running"
    EXITED = "exited"
    DONE = "done"
    RETIRED = "retired"


_NEXT = {
    State.RUNNING: {State.EXITED, State.DONE, State.RETIRED},
    State.EXITED: {State.DONE, State.RETIRED},
    State.DONE: {State.RETIRED},
    State.RETIRED: set(),
}
"""The transitions the state machine allows."""


class SessionLog(logging.LoggerAdapter[logging.Logger]):
    """The ``streamshell`` logger, each message prefixed with its session (``session 3: ...``)."""

    def process(self, msg: str, kwargs: object) -> tuple[str, object]:  # type: ignore[override]
        return f"session {self.extra['session'] if self.extra else '?'}: {msg}", kwargs


class Session:
    """A command started by ``exec_command`` and addressed by later ``write_stdin`` calls.

    Slotted: a manager holds thousands, and a ``__dict__`` of this many attributes outgrows the
    shared-key layout, a whole dict per session (BENCHMARKS.md, concurrency row).
    """

    __slots__ = (
        "_buffer",
        "_complete",
        "_done_waiters",
        "_drain_timeout",
        "_drain_timer",
        "_eof",
        "_exit_told",
        "_input",
        "_input_wait_look",
        "_last_used",
        "_listeners",
        "_loop",
        "_on_done",
        "_probe",
        "_process",
        "_read_fd",
        "_recent",
        "_recorder",
        "_screen",
        "_size",
        "_turn",
        "_watches",
        "command",
        "ended",
        "id",
        "pid",
        "started_at",
        "state",
        "tty",
    )

    def __init__(
        self,
        session_id: int,
        command: str,
        spawned: Spawned,
        *,
        tty: bool,
        window: int,
        drain_timeout: float,
        profile: Profile = Profile.REFERENCE,
        screen: bool = False,
        on_done: Callable[[Session], None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.id = session_id
        self.command = command
        self.tty = tty
        self.pid = spawned.pid
        self.started_at = time.time()
        self.state = State.RUNNING
        self.ended: str | None = None
        """Why later calls cannot use the session, once it is RETIRED."""
        self._last_used = time.monotonic()
        self._turn = asyncio.Lock()
        self._buffer = OutputBuffer(window)
        self._loop = asyncio.get_running_loop()
        self._read_fd: int | None = spawned.read_fd
        self._eof = False
        self._complete = False
        self._drain_timeout = drain_timeout
        self._drain_timer: asyncio.TimerHandle | None = None
        self._listeners: list[OutputListener] = []
        self._done_waiters: list[asyncio.Future[None]] = []
        self._input = InputQueue(
            spawned.write_fd, tty=tty, interrupt=self._interrupt, session_id=session_id, profile=profile
        )
        self._on_done = on_done
        self._size = (ROWS, COLS)
        self._screen: TerminalScreen | None = None
        self._probe: InputWaitProbe | None = None
        self._input_wait_look = (0.0, False)
        self._recorder = recorder
        self._recent = RecentOutput()
        self._watches: list[Watch] = []
        self._exit_told = False
        if screen:
            self.start_screen()
        self._loop.add_reader(spawned.read_fd, self._on_readable)
        self._process = ChildProcess(spawned.pid, spawned.popen, self._on_exit, spawned.cell)

    def __repr__(self) -> str:
        return (
            f"<Session {self.id} {self.state.value} pid={self.pid} {'pty' if self.tty else 'pipes'} "
            f"unread={self.unread_bytes}B cmd={self.command[:40]!r}>"
        )

    @property
    def log(self) -> SessionLog:
        """The ``streamshell`` logger for this session's messages; made when a message is logged
        (rarely: a kill, a prune, an exit nobody waited for), not held by every session."""
        return SessionLog(log, {"session": self.id})

    # ----- state -----------------------------------------------------------------------------

    def _to(self, state: State) -> None:
        assert state in _NEXT[self.state], f"session {self.id}: {self.state} -> {state}"
        self.state = state

    @property
    def exit(self) -> Exited | None:
        """How the leader ended, once it has."""
        return self._process.exit

    @property
    def done(self) -> bool:
        """Exited and its output read to the end (or the drain wait ran out), or released:
        nothing more will come."""
        return self._complete

    @property
    def busy(self) -> bool:
        """A call is collecting this session's output now."""
        return self._turn.locked()

    @property
    def last_used(self) -> float:
        """When a call last took a turn on the session (``time.monotonic``)."""
        return self._last_used

    @property
    def unread_bytes(self) -> int:
        """Output bytes printed since the last take, kept or not."""
        return len(self._buffer)

    @property
    def pending_input(self) -> int:
        """Input bytes queued but not yet accepted by the process."""
        return self._input.pending

    @property
    def columns(self) -> int:
        """The terminal's width (what it would be, on pipes)."""
        return self._size[1]

    @property
    def cast(self) -> str | None:
        """The path of the session's cast, when it is recorded (and recording has not failed)."""
        return self._recorder.path if self._recorder is not None else None

    @property
    def input_wait_looked_at(self) -> float:
        """When :meth:`look_for_input_wait` last ran (``time.monotonic``; 0: never)."""
        return self._input_wait_look[0]

    def look_for_input_wait(self) -> bool:
        """Look at the kernel's state once: does the program wait for input now? :meth:`info`
        reports the answer until the next look."""
        waiting = self.exit is None and self._input_probe().sample() is not None
        self._input_wait_look = (time.monotonic(), waiting)
        return waiting

    def info(self) -> SessionInfo:
        """The session as ``list_sessions`` reports it (``waiting_for_input``: the last
        :meth:`look_for_input_wait`; False before the first, and once it exited)."""
        last_used = time.time() - (time.monotonic() - self._last_used)
        code = self.exit.code if self.exit is not None else None
        waiting = code is None and self._input_wait_look[1]
        return SessionInfo(
            self.id,
            self.command,
            self.pid,
            self.tty,
            self.started_at,
            last_used,
            code,
            waiting_for_input=waiting,
            unread_bytes=len(self._buffer),
            cast=self.cast,
        )

    def touch(self) -> None:
        """Mark the session used now (pruning spares the most recently used)."""
        self._last_used = time.monotonic()

    def call(self, window: int, *, discard_unread: bool = False) -> _Turn:
        """Take a turn (``async with session.call(...)``): calls on one session collect its output
        one after another.

        ``window`` is what the buffer keeps at each end while this call collects (enough for
        its truncation to be exact); ``discard_unread`` forgets output printed before the call.
        Raises :class:`SessionEndedError` when the session was retired meanwhile.
        """
        return _Turn(self, window, discard_unread)

    def _begin_turn(self, window: int, discard_unread: bool) -> None:
        if self.ended is not None:
            raise SessionEndedError(self.id, self.ended)
        self.touch()
        self._buffer.window = window
        if discard_unread:
            self._buffer.clear()

    async def wait_done(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :attr:`done`; return it.

        A future that :meth:`_finish` or a timer resolves: cheaper per call than
        ``asyncio.timeout`` around an ``Event.wait`` (BENCHMARKS.md, spawn row).
        """
        if not self.done and timeout > 0:
            await self._until_done(self._loop.create_future(), timeout)
        return self.done

    async def _until_done(self, waiter: asyncio.Future[None], timeout: float) -> None:
        """Wait until ``waiter`` is resolved: by :meth:`_finish` (every done waiter is), by
        whoever else holds it, or after ``timeout`` seconds."""
        self._done_waiters.append(waiter)
        timer = self._loop.call_later(timeout, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._done_waiters.remove(waiter)

    async def wait_call(
        self, timeout: float, *, input_wait: bool, matcher: OutputMatcher | None = None
    ) -> CallEnd:
        """Wait up to ``timeout`` seconds for the call's end: the process done, the output this
        call returns matching ``matcher`` (what is unread counts), or, with ``input_wait``, the
        program waiting for input. A pattern takes precedence over input waits: with one, the
        program waiting for input does not end the call (unless the pattern is given up). Costs
        nothing beyond :meth:`wait_done` without a pattern or input waits."""
        if self.done:
            return CallEnd.DONE
        waiter = self._loop.create_future()
        wake = functools.partial(_resolve, waiter)
        listeners: list[OutputListener] = []
        input_watch: InputWaitWatch | None = None

        def listen(listener: OutputListener) -> None:
            listeners.append(listener)
            self._listeners.append(listener)

        def watch_input() -> None:
            nonlocal input_watch
            if input_wait and input_watch is None and self._input_probe().available:
                input_watch = InputWaitWatch(self._input_probe(), wake)
                listen(input_watch.output_arrived)

        match_watch = None
        try:
            if matcher is not None:
                match_watch = MatchWatch(matcher, self._loop.time() + timeout, wake, watch_input)
                unread = self._buffer.peek()
                matcher.add(unread.head)
                matcher.add(unread.tail)
                if match_watch.search_now():  # (given up: watch_input ran)
                    return CallEnd.MATCHED
                listen(match_watch.output_arrived)
            elif timeout > 0:  # a call that returns at once has no use for a watch (nor a probe)
                watch_input()
            if timeout <= 0:
                return CallEnd.YIELD
            if not listeners:
                await self.wait_done(timeout)
                return CallEnd.DONE if self.done else CallEnd.YIELD
            await self._until_done(waiter, timeout)
        finally:
            for listener in listeners:
                self._listeners.remove(listener)
            if match_watch is not None:
                match_watch.close()
            if input_watch is not None:
                input_watch.close()
        if self.done:
            return CallEnd.DONE
        if matcher is not None and matcher.matched:
            return CallEnd.MATCHED
        if input_watch is not None and input_watch.confirmed:
            return CallEnd.INPUT_WAIT
        return CallEnd.YIELD

    def _input_probe(self) -> InputWaitProbe:
        """The session's input-wait probe, made the first time it is needed."""
        if self._probe is None:
            self._probe = InputWaitProbe(
                self.pid,
                master=(lambda: self._read_fd) if self.tty else None,
                stdin=lambda: self._input.fd,
                pending=lambda: self._input.pending,
            )
        return self._probe

    def _wake_waiters(self) -> None:
        for waiter in self._done_waiters:
            _resolve(waiter)

    # ----- output ----------------------------------------------------------------------------

    def stream_to(self, on_output: OutputCallback | None) -> contextlib.AbstractContextManager[None]:
        """Forward output to ``on_output`` as decoded text while the block runs: first what the
        session printed since the last take (the call returns it too), then each chunk as it
        arrives. A character cut short at the end stays for the next call."""
        if on_output is None:
            return contextlib.nullcontext()
        return self._streaming(on_output)

    @contextlib.contextmanager
    def _streaming(self, on_output: OutputCallback) -> Iterator[None]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")

        def listener(data: bytes) -> None:
            text = decoder.decode(data)
            if text:
                on_output(text)

        unread = self._buffer.peek()
        listener(unread.head)
        if unread.dropped:
            mid_line = bool(unread.head) and not unread.head.endswith(b"\n")
            on_output(decoder.decode(b"", final=True) + dropped_marker(unread.dropped, new_line=mid_line))
        listener(unread.tail)
        self._listeners.append(listener)
        try:
            yield
        finally:
            self._listeners.remove(listener)
            tail = decoder.decode(b"", final=self.done)
            if tail:
                on_output(tail)

    def take(self, window: int) -> Captured:
        """Everything printed since the last take (read what the kernel holds first); the buffer
        then keeps ``window`` bytes at each end.

        While more output can come, a character whose bytes have not all arrived stays
        for the next take, rather than turning into U+FFFD at the end of this one and
        the start of the next.
        """
        self._pump()
        captured = self._buffer.take(keep_incomplete_char=not self.done)
        self._buffer.window = window
        return captured

    def start_screen(self) -> None:
        """Keep a terminal emulator from now on, fed first with the output not yet returned (the
        whole output when the session has just started); idempotent."""
        if self._screen is not None:
            return
        self._screen = TerminalScreen(*self._size)
        unread = self._buffer.peek()
        self._screen.feed(unread.head)
        self._screen.feed(unread.tail)
        self._listeners.append(self._screen.feed)

    def show_screen(self) -> str:
        """The screen as the emulator draws it now (:meth:`start_screen` first)."""
        assert self._screen is not None, "show_screen() before start_screen()"
        return self._screen.render()

    def watch(self) -> Watch:
        """A watcher of the session from now on: its screen first (drawn from its newest output),
        then what happens to it (see :mod:`.watch`)."""
        watch = Watch(self.id, self._screenshot, self._replay, pipes=not self.tty)
        if self._exit_told and self.exit is not None:
            watch.exited(self.exit.code)
        if self._read_fd is None:  # closed already: nothing more will come
            watch.closed()
            return watch
        self._watches.append(watch)
        self._listeners.append(watch.output)

        def unsubscribe() -> None:
            if watch in self._watches:
                self._watches.remove(watch)
                self._listeners.remove(watch.output)

        watch.unsubscribe = unsubscribe
        return watch

    def _screenshot(self) -> ScreenShot:
        rows, cols = self._size
        return ScreenShot(rows, cols, self._recent.screen(rows, cols, pipes=not self.tty).ansi())

    def _replay(self) -> ScreenShot:
        rows, cols = self._size
        return ScreenShot(rows, cols, self._recent.replay(pipes=not self.tty))

    def _pump(self) -> None:
        """Read what the kernel already holds, so a call returns everything printed so far."""
        if self._read_fd is not None and not self._eof:
            self._on_readable()

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
            self._buffer.append(data)
            self._recent.append(data)
            if self._recorder is not None:
                self._recorder.output(data)
            for listener in self._listeners:
                try:
                    listener(data)
                except Exception:  # a display's bug must not stop the session's reading
                    log.exception("an output listener of session %d failed", self.id)

    def _on_eof(self) -> None:
        self._eof = True
        if self._read_fd is not None:
            self._loop.remove_reader(self._read_fd)
        if self.exit is not None:
            self._finish()

    def _on_exit(self, exit: Exited) -> None:
        """The leader exited: its output is complete at EOF, but a background child may hold
        the terminal open, so wait for EOF only ``drain_timeout`` seconds."""
        self.log.debug("leader exited: %r", exit)
        if self._eof:
            self._finish()
            return
        if self.state is State.RUNNING:
            self._to(State.EXITED)
        self._drain_timer = self._loop.call_later(self._drain_timeout, self._finish)

    def _finish(self) -> None:
        """The output is complete: EOF after the exit, or the drain wait ran out. Runs at most
        once: a background child may close the output after the drain wait gave up on it (or a
        kill that outlasted the drain wait), and pumping here can read that EOF, which comes
        back here."""
        if self._complete:
            return
        self._complete = True
        self._cancel_drain_timer()
        self._pump()
        if self.state is not State.RETIRED:
            self._to(State.DONE)
        self._wake_waiters()
        self._tell_watchers_exit()
        if self._on_done is not None and self.state is State.DONE:
            self._on_done(self)

    def _cancel_drain_timer(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    # ----- input and control -----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue input for the process (see :class:`InputQueue`); raises :class:`WriteError`."""
        self._input.write(data)
        if self._recorder is not None:
            self._recorder.input(data)

    def close_input(self) -> None:
        """Close the process's stdin (pipes only): it reads end of file; Ctrl-C still interrupts."""
        self._input.close()

    def _interrupt(self) -> None:
        """SIGINT to the foreground job of the terminal, or to the session's group.

        The terminal has no foreground group (``tcgetpgrp`` says 0) once the leader has
        exited, and ``killpg(0)`` would signal *our* group: the session's own group
        (pinned by its unreaped leader) is the target then.
        """
        pgid = 0
        if self.tty and self._read_fd is not None:
            with contextlib.suppress(OSError):
                pgid = os.tcgetpgrp(self._read_fd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid if pgid > 0 else self.pid, signal.SIGINT)

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal size (the foreground job gets SIGWINCH); the emulator follows."""
        if self._read_fd is not None:
            set_window_size(self._read_fd, rows, cols)
            self._size = (rows, cols)
            if self._screen is not None:
                self._screen.resize(rows, cols)
            if self._recorder is not None:
                self._recorder.resize(rows, cols)
            for watch in self._watches:
                watch.resized(rows, cols)

    async def terminate(self, grace: float) -> Exited:
        """Kill the session's process group (escalating); return how the leader ended."""
        return await self._process.terminate(grace)

    # ----- the end ---------------------------------------------------------------------------

    def retire(self, reason: str) -> None:
        """The manager lets go: later calls get ``reason``. A call still waiting returns when the
        output is complete or the session is released, whichever comes first."""
        if self.state is State.RETIRED:
            return
        self.ended = reason
        self._to(State.RETIRED)

    def release_if_finished(self) -> bool:
        """When the leader has exited and nothing is left in its group or cell, release
        everything now; return whether that was so (else :meth:`dispose` must kill them)."""
        if not self._process.finished():
            return False
        self._close()
        return True

    async def dispose(self, grace: float) -> None:
        """Kill the group and the cell with escalation, then release everything. Cancelled
        half-way (the loop ending), SIGKILL them at once rather than leave them signalled but alive."""
        try:
            await self._process.terminate(grace)
        except BaseException:
            self._process.kill_now()
            raise
        finally:
            self._close()

    def _close(self) -> None:
        """Release the fds (closing a PTY master hangs up whatever still uses it) and the leader."""
        self._cancel_drain_timer()
        write_fd = self._input.release()
        if self._read_fd is not None:
            if not self._eof:
                self._loop.remove_reader(self._read_fd)
            os.close(self._read_fd)
        if write_fd is not None and write_fd != self._read_fd:
            os.close(write_fd)
        self._read_fd = None
        self._process.release()
        self._complete = True  # nothing more can arrive: a call still waiting must not wait on
        self._wake_waiters()
        if self._recorder is not None:
            self._recorder.close()
        self._tell_watchers_exit()
        for watch in list(self._watches):
            watch.unsubscribe()
            watch.closed()

    def _tell_watchers_exit(self) -> None:
        """Watchers hear of the exit once, when the output is complete (or the session released)."""
        if self.exit is not None and not self._exit_told:
            self._exit_told = True
            for watch in self._watches:
                watch.exited(self.exit.code)


class _Turn:
    """A call's turn on a session: holds the session's lock for the ``async with`` block."""

    def __init__(self, session: Session, window: int, discard_unread: bool) -> None:
        self._session = session
        self._window = window
        self._discard = discard_unread

    async def __aenter__(self) -> None:
        await self._session._turn.acquire()
        try:
            self._session._begin_turn(self._window, self._discard)
        except BaseException:
            self._session._turn.release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._session._turn.release()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
