"""What the engine's calls return: exit statuses, call outputs with the text the model reads,
and the session list."""

from __future__ import annotations

import signal as signals
import struct
from dataclasses import dataclass, field

from .profiles import Profile


@dataclass(frozen=True)
class Exited:
    """The process ended.

    ``code`` is what a shell's ``$?`` says: the exit status, or 128+N when signal N killed
    the process (the reference said 1). ``signal`` tells the two apart: N for a death by
    signal, None for an exit, so ``exit 130`` and SIGINT differ there. Statuses compare by
    ``code``, as the text the model reads does.
    """

    code: int
    signal: int | None = field(default=None, compare=False)

    @classmethod
    def from_wait(cls, status: int | None, signal: int | None) -> Exited:
        """From what ``waitid`` said: an exit status, or the number of the signal that killed it."""
        if signal is not None:
            return cls(128 + signal, signal)
        assert status is not None
        return cls(status)

    @property
    def exit_status(self) -> int | None:
        """The status the process passed to ``exit``; None when a signal killed it."""
        return None if self.signal is not None else self.code

    def __repr__(self) -> str:
        if self.signal is None:
            return f"Exited(code={self.code})"
        try:
            name = signals.Signals(self.signal).name
        except ValueError:
            name = str(self.signal)
        return f"Exited(code={self.code}, signal={name})"


@dataclass(frozen=True)
class Ongoing:
    """The process is still running; later calls address it by ``session_id``."""

    session_id: int


ExitStatus = Exited | Ongoing


@dataclass(frozen=True)
class ExitNotice:
    """A session that exited while no call was waiting on it, told once with the next result.

    ``kept``: the session is still open, its unread output waiting for a ``write_stdin``
    (False once it was pruned or the manager let it go otherwise).
    """

    session_id: int
    code: int
    command: str
    kept: bool = True

    MAX_COMMAND = 60
    """Characters of the command shown; a longer one is cut with an ellipsis."""

    @property
    def text(self) -> str:
        """``Session 3 exited with code 0 (npm run build); its unread output is kept.``"""
        command = " ".join(self.command.split())
        if len(command) > self.MAX_COMMAND:
            command = command[: self.MAX_COMMAND - 1] + "…"
        tail = "; its unread output is kept." if self.kept else "."
        return f"Session {self.session_id} exited with code {self.code} ({command}){tail}"


def _as_f32(x: float) -> float:
    """Round to the nearest f32: the reference formats ``Duration::as_secs_f32()``."""
    value: float = struct.unpack("f", struct.pack("f", x))[0]
    return value


@dataclass(frozen=True)
class ExecCommandOutput:
    """What one ``exec_command`` / ``write_stdin`` call produced.

    ``output`` is already truncated to the call's token budget;
    ``original_token_count`` is set only when it was (``ceil(bytes / 4)`` of the
    whole output). ``pending_input_bytes`` counts input accepted by the call but
    not yet written because the process is not reading it. ``session_id`` is the
    session the call addressed (also when it exited), for logs and displays.

    The unified profile's outputs also carry a ``chunk_id`` and the whole output's
    ``token_count`` (always shown there), and their ``output`` already starts with the
    truncation warning when it was cut.

    ``waiting_for_input``: the call returned because the program waits for input on its
    terminal (or stdin); ``matched``: because the output matched ``wait_for``;
    ``wait_for_abandoned``: the pattern took too long and was given up. ``exit_notices``:
    other sessions that exited while nobody watched, told once. ``view_fallback``: why the
    view the call asked for could not be drawn; ``output`` is then the raw view's. ``cast``:
    the session's recording (set by ``kill_session`` only, whose text then names it on a
    ``Transcript:`` line: the reference's calls keep their text).
    """

    wall_time: float
    exit_status: ExitStatus
    original_token_count: int | None
    output: str
    pending_input_bytes: int = 0
    session_id: int | None = None
    profile: Profile = Profile.REFERENCE
    chunk_id: str | None = None
    token_count: int | None = None
    waiting_for_input: bool = False
    matched: bool = False
    wait_for_abandoned: bool = False
    exit_notices: tuple[ExitNotice, ...] = ()
    view_fallback: str | None = None
    cast: str | None = None
    limit_notes: tuple[str, ...] = ()
    """Header lines naming the resource limits the exited session ran into."""

    def to_text_output(self) -> str:
        """The text the model reads: the profile's format (the reference's or current Codex's), byte
        for byte."""
        match self.exit_status:
            case Exited(code):
                status = f"Process exited with code {code}"
            case Ongoing(session_id):
                status = f"Process running with session ID {session_id}"
        if self.profile is Profile.UNIFIED:
            lines = [f"Chunk ID: {self.chunk_id}", f"Wall time: {self.wall_time:.4f} seconds", status]
            lines.append(f"Original token count: {self.token_count}")
        else:
            lines = [f"Wall time: {_as_f32(self.wall_time):.3f} seconds", status]
            if self.original_token_count is not None:
                lines.append(f"Warning: truncated output (original token count: {self.original_token_count})")
        lines += self.limit_notes
        if self.pending_input_bytes:
            lines.append(
                f"Warning: {self.pending_input_bytes} bytes of input not yet written "
                "(the process is not reading its input)"
            )
        if self.wait_for_abandoned:
            lines.append(
                "Warning: wait_for was given up: one search took longer than its time limit on this output"
            )
        if self.view_fallback:
            lines.append(f"Warning: {self.view_fallback}; the output is shown raw")
        lines += [notice.text for notice in self.exit_notices]
        if self.cast is not None:
            lines.append(f"Transcript: {self.cast}")
        lines.append("Output:")
        lines.append(self.output)
        return "\n".join(lines)


@dataclass(frozen=True)
class SessionInfo:
    """A live session as ``list_sessions`` reports it (times are Unix timestamps).

    On a cluster (:mod:`streamshell.cluster`), ``node`` is the id of the Ray node the session
    runs on, and ``lost`` marks a session whose node left the cluster: the rest is what was
    last seen of it (``pid`` is the process id on that node).

    ``waiting_for_input``: its program waits for input now (one look at the kernel's state;
    always False where that cannot be read); ``unread_bytes``: output printed since the last
    call took some, which the next call returns. ``cast``: the path of its asciicast recording
    (on its node, on a cluster), when its manager records them.
    """

    session_id: int
    command: str
    pid: int
    tty: bool
    started_at: float
    last_used_at: float
    exit_code: int | None
    lost: bool = False
    node: str | None = None
    waiting_for_input: bool = False
    unread_bytes: int = 0
    cast: str | None = None

    @property
    def running(self) -> bool:
        return self.exit_code is None and not self.lost
