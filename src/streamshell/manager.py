"""The session manager: session ids, the session table, pruning, and the two tool calls.

One manager owns its sessions' processes: every session runs in its own process
group, and the group is killed (SIGHUP/SIGTERM, then SIGKILL) when its exit has
been reported, when it is killed or pruned, when the manager closes, and at
interpreter exit if the owner never closed the manager.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from .buffer import WINDOW_SLACK, Captured, dropped_marker
from .environment import (
    DEFAULT_DROP_ENV_CONTAINING,
    check_env_entry,
    child_environment,
    inherited_environment,
)
from .errors import (
    InvalidArgumentsError,
    ManagerClosedError,
    NoTerminalError,
    SessionEndedError,
    SpawnError,
    UnknownSessionError,
)
from .output import ExecCommandOutput, Exited, Ongoing
from .params import DEFAULT_MAX_OUTPUT_TOKENS, ExecCommandParams, WriteStdinParams
from .session import Session
from .spawn import Launch, LaunchError, spawn_pipes, spawn_pty
from .truncation import TOKEN_BYTES
from .watchdog import Watchdog

OutputCallback = Callable[[str], None]

MAX_CALL_WINDOW = 64 << 20
"""However large a call's token budget, a session keeps at most this many bytes at each end."""

ENDED_MEMORY = 4096
"""Ended sessions whose fate (exit code, pruned, killed) is remembered for later calls."""


@dataclass(frozen=True)
class SessionInfo:
    """A live session as ``list_sessions`` reports it (times are Unix timestamps)."""

    session_id: int
    command: str
    pid: int
    tty: bool
    started_at: float
    last_used_at: float
    exit_code: int | None

    @property
    def running(self) -> bool:
        return self.exit_code is None


def _kill_process_groups(pgids: set[int]) -> None:
    """Last resort at interpreter exit (or garbage collection) of an unclosed manager."""
    for pgid in list(pgids):
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
    pgids.clear()


class SessionManager:
    """Runs ``exec_command`` / ``write_stdin`` calls; an async context manager that owns its sessions.

    Options:

    - ``keep_unread_output``: output printed between calls is returned by the next
      call (default). False restores the reference: a call sees only output from
      its own start on.
    - ``max_sessions``: open sessions at most; starting one more prunes one, never
      among the ``protected_sessions`` most recently used (default
      ``min(8, max_sessions // 8)``), exited sessions first, then the least
      recently used. Its process group is killed.
    - ``max_unread_bytes``: output kept for a session between calls (head and tail
      halves; the middle is counted, not kept).
    - ``max_yield_time_ms``: longer ``yield_time_ms`` are clamped to this.
    - ``cwd``: working directory of new sessions (default: the process's at spawn).
    - ``env``: variables set for every session; ``drop_env_containing``: inherited
      variables whose upper-cased name contains one of these are not passed on.
      Sessions inherit this process's environment as it is when the manager is made.
    - ``kill_grace``: seconds between SIGTERM and SIGKILL when killing a group.
    - ``exit_drain_timeout``: after a process exits, how long to wait for the end of
      its output when a background child keeps the terminal open.
    - ``watchdog``: start a helper process that kills the sessions' process groups if
      this process dies without closing the manager (SIGKILL, OOM), even shells that
      ignore SIGHUP.
    """

    def __init__(
        self,
        *,
        keep_unread_output: bool = True,
        max_sessions: int = 64,
        protected_sessions: int | None = None,
        max_unread_bytes: int = 1 << 20,
        max_yield_time_ms: int = 30_000,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        drop_env_containing: Iterable[str] = DEFAULT_DROP_ENV_CONTAINING,
        kill_grace: float = 0.5,
        exit_drain_timeout: float = 0.1,
        watchdog: bool = True,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        if protected_sessions is None:
            protected_sessions = min(8, max_sessions // 8)
        if not 0 <= protected_sessions < max_sessions:
            raise ValueError(f"protected_sessions must be in [0, {max_sessions}), got {protected_sessions}")
        if max_unread_bytes < 2:
            raise ValueError(f"max_unread_bytes must be >= 2, got {max_unread_bytes}")
        if max_yield_time_ms < 0:
            raise ValueError(f"max_yield_time_ms must be >= 0, got {max_yield_time_ms}")
        if kill_grace < 0 or exit_drain_timeout < 0:
            raise ValueError("kill_grace and exit_drain_timeout must be >= 0")
        for name, value in (env or {}).items():
            problem = check_env_entry(name, value)
            if problem:
                raise ValueError(problem)
        self._keep_unread = keep_unread_output
        self._max_sessions = max_sessions
        self._protected = protected_sessions
        self._idle_window = max_unread_bytes // 2
        self._max_yield_ms = max_yield_time_ms
        self._cwd = cwd
        inherited = inherited_environment(os.environ, drop_env_containing)
        self._base_env = {tty: child_environment(inherited, env or {}, tty=tty) for tty in (True, False)}
        self._kill_grace = kill_grace
        self._drain_timeout = exit_drain_timeout
        self._next_id = 0
        self._sessions: OrderedDict[int, Session] = OrderedDict()  # least recently used first
        self._ended: OrderedDict[int, str] = OrderedDict()
        self._cleanups: set[asyncio.Task[None]] = set()
        self._pgids: set[int] = set()
        self._watchdog = Watchdog(kill_grace) if watchdog else None
        self._closed = False
        self._finalizer = weakref.finalize(self, _kill_process_groups, self._pgids)

    # ----- the two tools ---------------------------------------------------------------------

    async def exec_command(
        self, params: ExecCommandParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        """Start ``params.cmd`` in a new session and collect its output until it exits or
        ``yield_time_ms`` passes. Every call takes a session id, even when the spawn fails.

        ``on_output`` receives the output as it arrives (decoded text), for live display.
        """
        started = time.monotonic()
        self._check_open()
        session_id = self._next_id
        self._next_id += 1
        try:
            spawned = (spawn_pty if params.tty else spawn_pipes)(self._launch(params))
        except LaunchError as e:
            self._remember_end(session_id, "never started: its process could not be created")
            raise SpawnError(session_id, str(e)) from None
        if len(self._sessions) >= self._max_sessions:
            self._prune_one()
        session = Session(
            session_id,
            params.cmd,
            spawned,
            tty=params.tty,
            window=self._call_window(params.max_output_tokens),
            drain_timeout=self._drain_timeout,
        )
        self._sessions[session_id] = session
        self._own(spawned.pid)
        try:
            return await self._collect(
                session, started, params.yield_time_ms, params.max_output_tokens, on_output
            )
        except asyncio.CancelledError:
            # Nobody learnt this session's id: it could never be used or stopped. Kill it.
            self._retire(session, "was killed: the exec_command that started it was cancelled")
            raise

    async def write_stdin(
        self, params: WriteStdinParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        """Type ``params.chars`` into a session, then collect its output until it exits or
        ``yield_time_ms`` passes. Empty ``chars`` just polls."""
        started = time.monotonic()
        self._check_open()
        session = self._get(params.session_id)
        return await self._collect(
            session, started, params.yield_time_ms, params.max_output_tokens, on_output, params.chars
        )

    # ----- the rest of the API ---------------------------------------------------------------

    def list_sessions(self) -> list[SessionInfo]:
        """The live sessions (exited ones whose exit was not yet reported included), by id."""
        now, mono = time.time(), time.monotonic()
        return [
            SessionInfo(s.id, s.command, s.pid, s.tty, s.started_at, now - (mono - s.last_used), s.exit_code)
            for s in sorted(self._sessions.values(), key=lambda s: s.id)
        ]

    async def kill_session(
        self, session_id: int, *, max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    ) -> ExecCommandOutput:
        """Kill a session's process group and return its last output with its exit code."""
        started = time.monotonic()
        self._check_open()
        session = self._get(session_id)
        code = await session.terminate(self._kill_grace)
        async with session.lock:  # a call in flight sees the exit and reports first
            if session.ended is not None:
                return ExecCommandOutput(
                    time.monotonic() - started, Exited(code), None, "", session_id=session_id
                )
            await session.wait_done(self._drain_timeout)
            session.pump()
            captured = session.take(self._idle_window)
            self._retire(session, f"was killed (exit code {code})")
        text, original = captured.render(max_output_tokens * TOKEN_BYTES)
        return ExecCommandOutput(
            time.monotonic() - started, Exited(code), original, text, session_id=session_id
        )

    async def resize(self, session_id: int, rows: int, cols: int) -> None:
        """Set a session's terminal size; the program gets SIGWINCH."""
        self._check_open()
        for name, value in (("rows", rows), ("cols", cols)):
            if not 1 <= value <= 0xFFFF:
                raise InvalidArgumentsError(f"{name}: must be between 1 and 65535, got {value}")
        session = self._get(session_id)
        if not session.tty:
            raise NoTerminalError(f"session id {session_id} has no terminal to resize (it runs on pipes)")
        session.resize(rows, cols)

    async def aclose(self) -> None:
        """Kill every session's process group and wait until they are gone. Idempotent."""
        self._closed = True
        for session in list(self._sessions.values()):
            self._retire(session, "was killed when the session manager closed")
        while self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        if self._watchdog is not None:
            await self._watchdog.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ----- internals -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ManagerClosedError

    def _launch(self, params: ExecCommandParams) -> Launch:
        for name, value in (params.env or {}).items():
            problem = check_env_entry(name, value)
            if problem:
                raise LaunchError(problem)
        base = self._cwd or os.getcwd()
        cwd = os.path.join(base, os.path.expanduser(params.workdir)) if params.workdir else base
        env = self._base_env[params.tty]
        if params.env:
            env = {**env, **params.env}
        return Launch([params.shell, "-lc" if params.login else "-c", params.cmd], env, cwd)

    def _call_window(self, max_output_tokens: int) -> int:
        """Bytes to keep at each end while a call with this budget collects (exact truncation)."""
        return max(self._idle_window, min(max_output_tokens * TOKEN_BYTES + WINDOW_SLACK, MAX_CALL_WINDOW))

    def _get(self, session_id: int) -> Session:
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        if session_id in self._ended:
            raise SessionEndedError(session_id, self._ended[session_id])
        if 0 <= session_id < self._next_id:
            raise SessionEndedError(session_id, "has ended")
        raise UnknownSessionError(session_id)

    async def _collect(
        self,
        session: Session,
        started: float,
        yield_time_ms: int,
        max_output_tokens: int,
        on_output: OutputCallback | None,
        chars: str | None = None,
    ) -> ExecCommandOutput:
        """Type ``chars`` (write_stdin only), wait for exit or the yield time, then take the
        session's output. Calls on one session take turns."""
        # Input is never held back behind another call that is waiting on this session (a
        # Ctrl-C must interrupt now); that call takes the output up to its end, this one the rest.
        written_early = False
        if chars and session.lock.locked():
            session.write(chars.encode())
            written_early = True
        async with session.lock:
            if session.ended is not None:
                raise SessionEndedError(session.id, session.ended)
            session.last_used = time.monotonic()
            self._sessions.move_to_end(session.id)
            session.buffer.window = self._call_window(max_output_tokens)
            if chars is not None and not written_early and not self._keep_unread:
                session.buffer.clear()
            with self._streaming(session, on_output):
                if chars and not written_early:
                    session.write(chars.encode())
                deadline = started + min(yield_time_ms, self._max_yield_ms) / 1000
                await session.wait_done(deadline - time.monotonic())
                session.pump()
            captured = session.take(self._idle_window)
            code = session.exit_code
            if code is not None:
                self._retire(session, f"already exited with code {code}")
        pending = session.pending_input if code is None else 0
        return self._result(started, captured, code, session.id, max_output_tokens, pending)

    def _result(
        self, started: float, captured: Captured, code: int | None, session_id: int, tokens: int, pending: int
    ) -> ExecCommandOutput:
        text, original = captured.render(tokens * TOKEN_BYTES)
        status = Exited(code) if code is not None else Ongoing(session_id)
        return ExecCommandOutput(time.monotonic() - started, status, original, text, pending, session_id)

    @contextlib.contextmanager
    def _streaming(self, session: Session, on_output: OutputCallback | None) -> Iterator[None]:
        """Forward the call's output to ``on_output`` as decoded text: first what the session
        printed since the last call (this call returns it too), then each chunk as it arrives."""
        if on_output is None:
            yield
            return
        decoder = codecs.getincrementaldecoder("utf-8")("replace")

        def listener(data: bytes) -> None:
            text = decoder.decode(data)
            if text:
                on_output(text)

        unread = session.buffer.peek()
        listener(unread.head)
        if unread.dropped:
            mid_line = bool(unread.head) and not unread.head.endswith(b"\n")
            on_output(decoder.decode(b"", final=True) + dropped_marker(unread.dropped, new_line=mid_line))
        listener(unread.tail)
        session.add_listener(listener)
        try:
            yield
        finally:
            session.remove_listener(listener)
            # A character cut short stays in the buffer for the next call (Session.take).
            tail = decoder.decode(b"", final=session.done)
            if tail:
                on_output(tail)

    def _prune_one(self) -> None:
        """Make room: an exited session if one is unprotected, else the least recently used."""
        ids = list(self._sessions)
        candidates = ids[: len(ids) - self._protected] or ids
        victim = next((i for i in candidates if self._sessions[i].exit_code is not None), candidates[0])
        self._retire(
            self._sessions[victim],
            f"was pruned to stay within {self._max_sessions} open sessions (its processes were killed)",
        )

    def _remember_end(self, session_id: int, how: str) -> None:
        self._ended[session_id] = how
        while len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)

    def _retire(self, session: Session, how: str) -> None:
        """Let go of a session: later calls get ``how``; its process group is killed."""
        if session.ended is not None:
            return
        session.ended = how
        del self._sessions[session.id]
        self._remember_end(session.id, how)
        if session.process.exited:
            session.process.reap()
            if not session.process.group_alive():
                session.close()
                self._disown(session.pid)
                return
        self._track(self._cleanup(session))

    async def _cleanup(self, session: Session) -> None:
        """Kill the group with escalation; cancelled half-way (the loop ending), SIGKILL it at
        once rather than leave it signalled but alive and forgotten."""
        try:
            await session.terminate(self._kill_grace)
        except BaseException:
            session.process.signal_group(signal.SIGKILL)
            raise
        finally:
            session.close()
            self._disown(session.pid)

    def _own(self, pgid: int) -> None:
        """A new process group: killed at interpreter exit, or by the watchdog if we die."""
        self._pgids.add(pgid)
        if self._watchdog is not None:
            self._watchdog.register(pgid)

    def _disown(self, pgid: int) -> None:
        self._pgids.discard(pgid)
        if self._watchdog is not None:
            self._watchdog.unregister(pgid)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
