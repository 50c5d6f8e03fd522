"""The session manager: session ids, the session table, pruning, and the calls.

One manager owns its sessions' processes: every session runs in its own process
group and its own cell (:mod:`.containment`: a cgroup, or a marker), and all of it is
killed (SIGHUP/SIGTERM, then SIGKILL) when its exit has been reported, when it is
killed or pruned, when the manager closes, and at interpreter exit if the owner never
closed the manager; by the watchdog if the owner dies (:mod:`.supervisor`).

For people watching (the UI, ``streamshell attach``) a manager also records its sessions
(``transcript_dir``: :mod:`.transcripts`), lets them be watched live (:meth:`SessionManager.watch`)
and typed into (:meth:`SessionManager.send_input`), and remembers the sessions that left its
table (:meth:`SessionManager.ended_sessions`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Self

from ..errors import (
    InvalidArgumentsError,
    ManagerClosedError,
    NoTerminalError,
    SessionEndedError,
    SpawnError,
    UnknownSessionError,
    shown,
)
from ..params import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    RAW_VIEW,
    SCREEN_VIEW,
    ExecCommandParams,
    WriteStdinParams,
    compile_wait_for,
)
from ..profiles import RULES, Profile
from ..results import ExecCommandOutput, Exited, ExitNotice, Ongoing, SessionInfo
from .buffer import WINDOW_SLACK, Captured
from .containment import Cell
from .environment import check_env_entry, session_environments
from .exit_listeners import ExitListener, ExitListeners
from .limits import LimitCell, Limiter, LimitsUnavailable
from .matching import OutputMatcher
from .options import ManagerOptions, Rejected
from .posix_spawn import SetupError
from .sandbox import Sandbox, SandboxUnavailable
from .session import CallEnd, OutputCallback, Session
from .spawn import COLS, ROWS, Launch, LaunchError, Spawned, spawn_pipes, spawn_pty
from .supervisor import Supervisor, kill_now
from .transcripts import TranscriptStore
from .truncation import TOKEN_BYTES
from .views import render_view
from .watch import Watch

MAX_CALL_WINDOW = 64 << 20
"""However large a call's token budget, a session keeps at most this many bytes at each end."""

ENDED_MEMORY = 4096
"""Ended sessions whose fate (exit code, pruned, killed) is remembered for later calls."""

CANCELLED_STARTS = {
    "exec_command": "was killed: the exec_command that started it was cancelled",
    "run": "was killed: the call that started it was cancelled",
}
"""How the session of a cancelled start ended (the text after "session id N"), by the call that
started it: a cancelled start kills its session."""

LIST_PROBE_BUDGET = 0.01
"""Seconds one ``list_sessions`` may spend looking at the kernel's state (``waiting_for_input``):
a look costs up to a millisecond or two for a program with many threads, on the event loop."""
ENDED_SHOWN = 256
"""Ended sessions :meth:`SessionManager.ended_sessions` keeps as they were last seen."""

log = logging.getLogger(__name__)


CallParams = ExecCommandParams | WriteStdinParams


def _current_directory() -> str | None:
    """This process's working directory, or None when it was deleted (``rm -rf $PWD``): then each
    session needs an absolute ``workdir``, and nothing else breaks."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        log.warning("the working directory of this process was deleted; sessions need an absolute workdir")
        return None


PID_NAMESPACE = "pid-namespace"
"""The mechanism a sandboxed manager's sessions get from ``containment="auto"``."""


def confinement(options: ManagerOptions, workspace: str | None) -> tuple[Sandbox, Limiter]:
    """The sandbox and the limits ``options`` ask for, ready for use; a ``ValueError`` that says
    what to install or enable when either cannot be enforced here."""
    try:
        sandbox = Sandbox(options.policy, workspace)
    except SandboxUnavailable as e:
        raise Rejected(str(e)) from None
    try:
        limiter = Limiter(options.limits)
    except LimitsUnavailable as e:
        raise Rejected(str(e)) from None
    if options.policy.sandboxed or options.limits:
        log.info("%s; %s", options.policy.describe(workspace or "(none)"), options.limits.describe())
    return sandbox, limiter


class SessionManager:
    """Runs ``exec_command`` / ``write_stdin`` calls; an async context manager that owns its sessions.

    Configured by one :class:`ManagerOptions`, given as it is or as keyword arguments
    (``SessionManager(max_sessions=8)``); see there for every option and its default.

    More keywords are for programs that embed managers (a cluster's node runs one per
    client): ``environ`` is the environment sessions inherit, filtered by the options
    (default: this process's, as it is now); ``on_retire(session_id)`` is called whenever
    a session leaves the table, however it went (exit reported, killed, pruned, closed).
    Managers of one process may share a ``supervisor`` (the kill mechanism and the watchdog;
    made with the same options), as the MCP server's per-client managers do. ``transcripts``
    is a :class:`.transcripts.TranscriptStore` to record into, shared by several managers (a
    server's clients: its owner closes it), instead of one of the manager's own for
    ``transcript_dir``. A ``transcript_dir`` that cannot be created is a ``ValueError`` that
    says why.
    """

    def __init__(
        self,
        options: ManagerOptions | None = None,
        /,
        *,
        environ: Mapping[str, str] | None = None,
        on_retire: Callable[[int], None] | None = None,
        supervisor: Supervisor | None = None,
        transcripts: TranscriptStore | None = None,
        **kwargs: Any,
    ) -> None:
        if options is not None and kwargs:
            raise TypeError("give SessionManager either a ManagerOptions or keyword arguments, not both")
        self.options = options if options is not None else ManagerOptions(**kwargs)
        opts = self.options
        self._idle_window = opts.max_unread_bytes // 2
        self._cwd = opts.cwd or _current_directory()
        self._rules = RULES[opts.profile]
        self._on_retire = on_retire
        self._base_env = session_environments(
            os.environ if environ is None else environ,
            opts.drop_env_containing,
            {**self._rules.env, **(opts.env or {})},
        )
        self._next_id = 0
        self._sessions: OrderedDict[int, Session] = OrderedDict()  # least recently used first
        self._ended: OrderedDict[int, str] = OrderedDict()
        self._unwatched_exits: OrderedDict[int, ExitNotice] = OrderedDict()
        """Sessions that exited while no call waited on them, not yet told in a result."""
        self._exit_listeners = ExitListeners()
        self._killing: set[int] = set()
        """Sessions that kill_session is killing: their exit is its result's to report."""
        self._cleanups: set[asyncio.Task[None]] = set()
        self._sandbox, self._limiter = confinement(opts, self._cwd)
        self._limit_cells: dict[int, LimitCell] = {}
        self._limit_notes: dict[int, tuple[str, ...]] = {}
        """Limits a retired session ran into, until its result reports them."""
        self._unreleased: list[LimitCell] = []
        """Limit cgroups of retired sessions that still held dying processes: removed later."""
        # The store before the supervisor: it may refuse its directory (ValueError) before one is attached.
        self._transcripts = transcripts
        self._owns_transcripts = transcripts is None and opts.transcript_dir is not None
        if self._owns_transcripts:
            assert opts.transcript_dir is not None
            try:
                self._transcripts = TranscriptStore(
                    opts.transcript_dir,
                    max_cast_bytes=opts.max_cast_bytes,
                    max_total_bytes=opts.max_transcripts_bytes,
                )
            except BaseException:
                self._limiter.close()
                raise
        self._supervisor = supervisor if supervisor is not None else Supervisor(opts, self._base_env[False])
        try:
            self._supervisor.attach()
        except ValueError:
            self._limiter.close()
            raise
        self._owned: dict[int, Cell] = {}
        """Each live session's process group and cell: killed at once if the manager is never closed."""
        self._shown_ended: OrderedDict[int, SessionInfo] = OrderedDict()
        self._closed = False
        self._detached = False
        self._finalizer = weakref.finalize(self, kill_now, self._owned)

    @property
    def profile(self) -> Profile:
        """Whose tools, texts and rules this manager follows (``ManagerOptions.profile``)."""
        return self.options.profile

    @property
    def closed(self) -> bool:
        """:meth:`aclose` was called: no new calls."""
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<SessionManager {state} sessions={len(self._sessions)}/{self.options.max_sessions} "
            f"next_id={self._next_id} cleanups={len(self._cleanups)} profile={self.profile.value} "
            f"{self._supervisor!r}>"
        )

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox sessions run in (its ``policy``; ``describe`` says it for people)."""
        return self._sandbox

    @property
    def limiter(self) -> Limiter:
        """The limits sessions run under and how each is enforced here (``mechanisms``)."""
        return self._limiter

    @property
    def mechanism(self) -> str:
        """How sessions' processes are contained and killed here: ``cgroup``, ``subreaper`` or
        ``process-group`` (what ``containment="auto"`` chose); ``pid-namespace`` when sandboxed
        with ``containment="auto"``."""
        return PID_NAMESPACE if self._namespaced else self._supervisor.mechanism

    @property
    def _namespaced(self) -> bool:
        """Whether the sandbox's PID namespace alone contains each session: every process of it
        dies with the namespace, which dies with bwrap (the session's leader, killed with its
        group, or by ``--die-with-parent`` with us), and none can leave it. A mechanism named
        explicitly is used as well; ``auto`` spares the cell's cost per spawn (a cgroup's two
        moves of this process)."""
        return self._sandbox.policy.sandboxed and self.options.containment == "auto"

    # ----- the two tools ---------------------------------------------------------------------

    async def exec_command(
        self,
        params: ExecCommandParams,
        *,
        on_output: OutputCallback | None = None,
        session_id: int | None = None,
    ) -> ExecCommandOutput:
        """Start ``params.cmd`` in a new session and collect its output until it exits or
        ``yield_time_ms`` passes. Every call takes a session id, even when the spawn fails.

        ``on_output`` receives the output as it arrives (decoded text), for live display.
        ``session_id`` is the id the session takes instead of the next one: ids handed out
        by someone else (a cluster's client numbers sessions across nodes), each used once;
        the next ids this manager picks itself are above every one it was given.
        """
        started = time.monotonic()
        session = self._start(params, session_id)
        yield_time_ms = self._rules.exec_yield.apply(params.yield_time_ms, self.options.max_yield_time_ms)
        try:
            return await self._collect(session, started, yield_time_ms, params, on_output)
        except BaseException as e:
            # Nobody learnt this session's id: it could never be used or stopped. Kill it.
            if isinstance(e, asyncio.CancelledError):
                self._retire(session, CANCELLED_STARTS["exec_command"])
            else:
                self._retire(
                    session, f"was killed: the exec_command that started it failed ({type(e).__name__})"
                )
            raise

    async def write_stdin(
        self, params: WriteStdinParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        """Type ``params.chars`` into a session, then collect its output until it exits or
        ``yield_time_ms`` passes (or it waits for input, or matches ``wait_for``). Empty ``chars``
        just polls."""
        started = time.monotonic()
        self._check_open()
        session = self._get(params.session_id)
        if params.view == SCREEN_VIEW and not session.tty:
            raise NoTerminalError(
                f'session id {params.session_id} has no screen to show (it runs on pipes): use view "text"'
            )
        clamp = self._rules.write_yield if params.chars else self._rules.poll_yield
        yield_time_ms = clamp.apply(params.yield_time_ms, self.options.max_yield_time_ms)
        return await self._collect(session, started, yield_time_ms, params, on_output, params.chars)

    # ----- the rest of the API ---------------------------------------------------------------

    def list_sessions(self) -> list[SessionInfo]:
        """The live sessions (exited ones whose exit was not yet reported included), by id.

        ``waiting_for_input`` comes from a look at the kernel's state, taken for the sessions
        looked at longest ago first, within :data:`LIST_PROBE_BUDGET` (at least one session per
        call): a session the budget did not reach shows its last look.
        """
        sessions = sorted(self._sessions.values(), key=lambda s: s.id)
        budget_end = time.perf_counter() + LIST_PROBE_BUDGET
        for session in sorted(sessions, key=lambda s: s.input_wait_looked_at):
            session.look_for_input_wait()
            if time.perf_counter() >= budget_end:
                break
        return [s.info() for s in sessions]

    def session_info(self, session_id: int) -> SessionInfo:
        """One live session as :meth:`list_sessions` reports it (looked at now); raises like the
        calls do for a session that is unknown or gone."""
        session = self._get(session_id)
        session.look_for_input_wait()
        return session.info()

    def ended_sessions(self) -> list[SessionInfo]:
        """The last :data:`ENDED_SHOWN` sessions that left the table (exit reported, killed, pruned,
        closed), oldest first, as last seen (the exit code of a killed one once it is dead)."""
        return list(self._shown_ended.values())

    def watch(self, session_id: int) -> Watch:
        """Watch a live session (``async for event in m.watch(id)``, then ``aclose()``): its screen
        as it is now, then its output, resizes and exit as they come (:mod:`.watch`). Nothing is
        taken from its calls. Raises as the calls do for a session that is unknown or gone."""
        self._check_open()
        return self._get(session_id).watch()

    async def send_input(self, session_id: int, chars: str) -> None:
        """Type ``chars`` into a session without collecting its output: what a person watching it
        types. The input path of ``write_stdin`` (queued, written without blocking, ``\u0003``
        interrupts; its errors), recorded in the cast as input; the output stays for the next call."""
        self._check_open()
        session = self._get(session_id)
        if chars:
            session.write(chars.encode())

    def subscribe_exit_notices(self, listener: ExitListener) -> Callable[[], None]:
        """Call ``listener`` at once whenever a session exits while no call waits on it (the same
        notice the next result carries); returns the function that unsubscribes it."""
        return self._exit_listeners.subscribe(listener)

    async def kill_session(
        self, session_id: int, *, max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    ) -> ExecCommandOutput:
        """Kill a session's process group and return its last output with its exit code."""
        started = time.monotonic()
        self._check_open()
        session = self._get(session_id)
        session.log.info("killing its process group (kill_session)")
        self._killing.add(session_id)
        try:
            exit = await session.terminate(self.options.kill_grace)
            async with session.call(self._idle_window):
                await session.wait_done(self.options.exit_drain_timeout)
                captured = session.take(self._idle_window)
                self._retire(session, f"was killed (exit code {exit.code})")
        except SessionEndedError:  # a call in flight saw the exit and reported it first
            return ExecCommandOutput(
                time.monotonic() - started, exit, None, "", session_id=session_id, cast=session.cast
            )
        finally:
            self._killing.discard(session_id)
        result = self._result(started, captured, exit, session_id, max_output_tokens)
        return dataclasses.replace(result, cast=session.cast)

    async def run(
        self,
        params: ExecCommandParams,
        *,
        timeout: float,
        on_output: OutputCallback | None = None,
        session_id: int | None = None,
    ) -> tuple[ExecCommandOutput, bool]:
        """Run ``params.cmd`` to completion, in one call: wait up to ``timeout`` seconds (not
        capped by any yield limit), then kill its group. The session never outlives the
        call; its whole output is truncated once, to ``params.max_output_tokens``.
        ``session_id`` as for :meth:`exec_command`.

        Returns the output (always ``Exited``) and whether the timeout killed it.
        """
        started = time.monotonic()
        session = self._start(params, session_id)
        try:
            async with session.call(self._call_window(params.max_output_tokens)):
                with session.stream_to(on_output):
                    timed_out = not await session.wait_done(timeout)
                    if timed_out:
                        session.log.info("killing its process group: ran longer than %.3f s", timeout)
                        await session.terminate(self.options.kill_grace)
                        await session.wait_done(self.options.exit_drain_timeout)
                    captured = session.take(self._idle_window)
                exit = session.exit
                assert exit is not None
                self._retire(session, f"already exited with code {exit.code}")
        except asyncio.CancelledError:
            self._retire(session, CANCELLED_STARTS["run"])
            raise
        # The one-shot tool's answer has no place for exit notices: they stay for the next result.
        out = self._result(started, captured, exit, session.id, params.max_output_tokens, tell_exits=False)
        return out, timed_out

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
        if not self._closed:
            log.info("closing the session manager: killing %d session(s)", len(self._sessions))
        self._closed = True
        for session in list(self._sessions.values()):
            self._retire(session, "was killed when the session manager closed")
        while self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        if self._owns_transcripts and self._transcripts is not None:
            await self._transcripts.aclose()
        if not self._detached:
            self._detached = True
            self._release_limit_cells()
            self._limiter.close()
            await self._supervisor.detach()

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

    def _start(self, params: ExecCommandParams, session_id: int | None) -> Session:
        """Take the next session id (or ``session_id``) and start the session (pruning one when
        at the cap; when none can be pruned, the call fails and nothing starts). An id is never
        used twice: given ones may come in any order (a cluster's calls can overtake each other),
        but never one the manager holds or remembers."""
        self._check_open()
        session_id = self._new_id() if session_id is None else self._given_id(session_id)
        at_cap = len(self._sessions) >= self.options.max_sessions
        victim = self._prune_candidate() if at_cap else None
        cell = Cell() if self._namespaced else self._supervisor.cell()
        limit_cell = self._limiter.cell()
        self._release_limit_cells()
        try:
            if at_cap and victim is None:
                raise LaunchError(
                    f"too many sessions: {len(self._sessions)} running; kill one with kill_session or wait"
                )
            spawned = self._spawn(params, cell, limit_cell)
        except LaunchError as e:
            cell.release()
            limit_cell.release()
            log.info("session %d: could not start %r: %s", session_id, shown(params.cmd, 80), e)
            self._remember_end(session_id, "never started: its process could not be created")
            raise SpawnError(session_id, str(e), os_error=e.os_error, profile=self.profile) from None
        if victim is not None:
            self._prune(victim)
        recorder = None
        if self._transcripts is not None:
            launch_env = self._base_env[params.tty]
            env = {name: launch_env[name] for name in ("TERM",) if name in launch_env}
            recorder = self._transcripts.recorder(
                session_id,
                command=params.cmd,
                env={**env, "SHELL": params.shell},
                pipes=not params.tty,
                rows=ROWS,
                cols=COLS,
            )
        session = Session(
            session_id,
            params.cmd,
            spawned,
            tty=params.tty,
            window=self._call_window(params.max_output_tokens),
            drain_timeout=self.options.exit_drain_timeout,
            profile=self.profile,
            screen=params.view == SCREEN_VIEW,
            on_done=self._session_done,
            recorder=recorder,
        )
        self._sessions[session_id] = session
        self._limit_cells[session_id] = limit_cell
        self._own(spawned.pid, cell)
        if not params.tty and self._rules.stdin_needs_tty:
            session.close_input()
        return session

    def _spawn(self, params: ExecCommandParams, cell: Cell, limit_cell: LimitCell) -> Spawned:
        """Start the session's process in its cells."""
        try:
            with limit_cell.entered():
                return (spawn_pty if params.tty else spawn_pipes)(self._launch(params, cell), cell)
        except SetupError as e:  # the limit cgroups could not be made
            raise LaunchError(f"could not start the session's process: {e.strerror}", e.errno) from None

    def _given_id(self, session_id: int) -> int:
        """An id handed out by someone else, used once; the ids this manager picks itself stay above it."""
        if session_id < 0 or session_id in self._sessions or session_id in self._ended:
            raise ValueError(f"session id {session_id} is negative or already used")
        self._next_id = max(self._next_id, session_id + 1)
        return session_id

    def _new_id(self) -> int:
        """The next session id: counted up from 0, or (unified) drawn at random from the profile's
        range, never one that is open or remembered as ended."""
        self._next_id += 1
        if not self._rules.random_session_ids:
            return self._next_id - 1
        ids = self._rules.session_ids
        while True:
            candidate = random.randrange(ids.start, ids.stop)
            if candidate not in self._sessions and candidate not in self._ended:
                return candidate

    def _launch(self, params: ExecCommandParams, cell: Cell) -> Launch:
        for name, value in (params.env or {}).items():
            problem = check_env_entry(name, value)
            if problem:
                raise LaunchError(problem)
        workdir = os.path.expanduser(params.workdir) if params.workdir else None
        if workdir is not None and os.path.isabs(workdir):
            cwd = workdir
        elif self._cwd is None:
            raise LaunchError(
                "no working directory: this process's own was deleted before the session manager was "
                "made; give workdir as an absolute path"
            )
        else:
            cwd = os.path.join(self._cwd, workdir) if workdir else self._cwd
        env = self._base_env[params.tty]
        if params.env or cell.environment:
            env = {**env, **(params.env or {}), **cell.environment}
        argv = [params.shell, "-lc" if params.login else "-c", params.cmd]
        return Launch(
            argv,
            env,
            cwd,
            self.options.open_files_limit,
            self.options.parent_death_signal,
            self._sandbox,
            self._limiter.prefix(),
        )

    def _call_window(self, max_output_tokens: int) -> int:
        """Bytes to keep at each end while a call with this budget collects (exact truncation)."""
        return max(self._idle_window, min(max_output_tokens * TOKEN_BYTES + WINDOW_SLACK, MAX_CALL_WINDOW))

    def _get(self, session_id: int) -> Session:
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        if session_id in self._ended:
            raise SessionEndedError(session_id, self._ended[session_id], profile=self.profile)
        if not self._rules.random_session_ids and 0 <= session_id < self._next_id:
            raise SessionEndedError(session_id, "has ended", profile=self.profile)
        raise UnknownSessionError(session_id, profile=self.profile)

    async def _collect(
        self,
        session: Session,
        started: float,
        yield_time_ms: int,
        params: CallParams,
        on_output: OutputCallback | None,
        chars: str | None = None,
    ) -> ExecCommandOutput:
        """Type ``chars`` (write_stdin only), wait for the call's end (exit, a ``wait_for``
        match, an input wait, or the yield time), then take the session's output in the call's
        view. Calls on one session take turns."""
        matcher = OutputMatcher(compile_wait_for(params.wait_for)) if params.wait_for is not None else None
        if params.view == SCREEN_VIEW:
            session.start_screen()
        # Input is never held back behind another call that is waiting on this session (a
        # Ctrl-C must interrupt now); that call takes the output up to its end, this one the rest.
        written_early = bool(chars) and session.busy
        if chars and written_early:
            session.write(chars.encode())
        discard = chars is not None and not written_early and not self.options.keep_unread_output
        async with session.call(self._call_window(params.max_output_tokens), discard_unread=discard):
            self._sessions.move_to_end(session.id)
            with session.stream_to(on_output):
                if chars and not written_early:
                    session.write(chars.encode())
                deadline = started + yield_time_ms / 1000
                end = await session.wait_call(
                    deadline - time.monotonic(),
                    input_wait=self.options.return_on_input_wait,
                    matcher=matcher,
                )
                captured = session.take(self._idle_window)
                screen = self._draw_screen(session) if params.view == SCREEN_VIEW else None
            exit = session.exit
            if exit is not None:
                self._retire(session, f"already exited with code {exit.code}")
        if exit is None and session.done:  # it exited just after this call took its output
            self._session_done(session)
        pending = session.pending_input if exit is None else 0
        return self._result(
            started,
            captured,
            exit,
            session.id,
            params.max_output_tokens,
            pending,
            view=params.view,
            screen=screen,
            width=session.columns,
            end=end,
            matcher=matcher,
        )

    @staticmethod
    def _draw_screen(session: Session) -> str | Exception:
        """The session's screen, or what drawing it raised (the call then falls back to raw)."""
        try:
            return session.show_screen()
        except Exception as e:
            return e

    def _result(
        self,
        started: float,
        captured: Captured,
        exit: Exited | None,
        session_id: int,
        tokens: int,
        pending: int = 0,
        *,
        view: str = RAW_VIEW,
        screen: str | Exception | None = None,
        width: int = COLS,
        end: CallEnd = CallEnd.DONE,
        matcher: OutputMatcher | None = None,
        tell_exits: bool = True,
    ) -> ExecCommandOutput:
        """The call's result; ``tell_exits``: it carries the pending exit notices (the one-shot
        tool's answer cannot)."""
        shown = render_view(view, captured, screen, tokens, self.profile, width=width)
        unified = self.profile is Profile.UNIFIED
        reported = session_id if exit is not None else None
        return ExecCommandOutput(
            time.monotonic() - started,
            exit if exit is not None else Ongoing(session_id),
            shown.original,
            shown.text,
            pending,
            session_id,
            self.profile,
            secrets.token_hex(3) if unified else None,
            shown.token_count if unified else None,
            waiting_for_input=end is CallEnd.INPUT_WAIT and exit is None,
            matched=end is CallEnd.MATCHED,
            wait_for_abandoned=matcher is not None and matcher.abandoned,
            exit_notices=self._take_exit_notices(reported) if tell_exits else self._forget_notice(reported),
            view_fallback=shown.fallback,
            limit_notes=self._limit_notes.pop(session_id, ()) if exit is not None else (),
        )

    # ----- exits nobody watched --------------------------------------------------------------

    def _session_done(self, session: Session) -> None:
        """A session's process exited and its output is complete. With a call waiting on it that
        call reports it; otherwise the next result says so (once), and listeners hear it now."""
        if session.busy or session.id in self._killing or session.exit is None:
            return
        if session.id in self._unwatched_exits:
            return
        # With keep_unread_output off, the next write_stdin drops what it printed: do not promise it.
        notice = ExitNotice(
            session.id, session.exit.code, session.command, kept=self.options.keep_unread_output
        )
        session.log.info("exited with code %d while no call waited on it", notice.code)
        if self.options.exit_notices:
            self._unwatched_exits[session.id] = notice
        self._exit_listeners.tell(notice)

    def _forget_notice(self, reported: int | None) -> tuple[ExitNotice, ...]:
        """``reported`` (the session whose exit a result reports itself) needs no notice; none is taken."""
        if reported is not None:
            self._unwatched_exits.pop(reported, None)
        return ()

    def _take_exit_notices(self, reported: int | None) -> tuple[ExitNotice, ...]:
        """The notices the next result carries (none when ``exit_notices`` is off); ``reported`` is
        the session whose exit the result itself reports, which needs no notice."""
        self._forget_notice(reported)
        if not self._unwatched_exits:
            return ()
        notices = tuple(
            n if n.session_id in self._sessions else dataclasses.replace(n, kept=False)
            for n in self._unwatched_exits.values()
        )
        self._unwatched_exits.clear()
        return notices

    def _prune_candidate(self) -> Session | None:
        """The session to prune to make room: an exited one if one is unprotected, else the least
        recently used. Never one of the most recently used, nor one a call is waiting on (its
        first call may still be running: its caller has not even learnt its id). None when
        every session is spared."""
        ids = list(self._sessions)
        unprotected = [self._sessions[i] for i in ids[: len(ids) - self.options.protected] or ids]
        candidates = [s for s in unprotected if not s.busy]
        if not candidates:
            return None
        return next((s for s in candidates if s.exit is not None), candidates[0])

    def _prune(self, victim: Session) -> None:
        cap = self.options.max_sessions
        victim.log.info("pruned: %d sessions open, at most %d", len(self._sessions), cap)
        self._retire(victim, f"was pruned to stay within {cap} open sessions (its processes were killed)")

    def _remember_end(self, session_id: int, how: str) -> None:
        self._ended[session_id] = how
        while len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)

    def _retire(self, session: Session, how: str) -> None:
        """Let go of a session: later calls get ``how``; its process group is killed."""
        if session.ended is not None:
            return
        session.retire(how)
        del self._sessions[session.id]
        self._remember_end(session.id, how)
        limit_cell = self._limit_cells.pop(session.id)
        if session.exit is not None:
            self._limit_notes[session.id] = limit_cell.hits(session.exit.code)
        self._show_ended(session)
        if self._on_retire is not None:
            self._on_retire(session.id)
        if session.release_if_finished():
            self._disown(session.pid, limit_cell)
        else:
            self._track(self._dispose(session, limit_cell))

    async def _dispose(self, session: Session, limit_cell: LimitCell) -> None:
        try:
            await session.dispose(self.options.kill_grace)
        finally:
            self._disown(session.pid, limit_cell)
            if session.id in self._shown_ended:  # now with the exit code its kill gave it
                self._shown_ended[session.id] = session.info()

    def _release_limit_cells(self) -> None:
        """Remove the limit cgroups of sessions whose last processes have died since."""
        self._unreleased = [cell for cell in self._unreleased if not cell.release()]

    def _show_ended(self, session: Session) -> None:
        self._shown_ended[session.id] = session.info()
        while len(self._shown_ended) > ENDED_SHOWN:
            self._shown_ended.popitem(last=False)

    def _own(self, pgid: int, cell: Cell) -> None:
        """A new session: killed at interpreter exit, or by the watchdog if we die."""
        self._owned[pgid] = cell
        self._supervisor.own(pgid)

    def _disown(self, pgid: int, limit_cell: LimitCell) -> None:
        self._owned.pop(pgid, None)
        self._supervisor.disown(pgid)
        if not limit_cell.release():
            self._unreleased.append(limit_cell)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
