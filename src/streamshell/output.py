"""The result of one tool call and the exact text the model reads for it."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class Exited:
    """The process ended; ``code`` is its exit code, or 128+N when signal N killed it."""

    code: int


@dataclass(frozen=True)
class Ongoing:
    """The process is still running; later calls address it by ``session_id``."""

    session_id: int


ExitStatus = Exited | Ongoing


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
    """

    wall_time: float
    exit_status: ExitStatus
    original_token_count: int | None
    output: str
    pending_input_bytes: int = 0
    session_id: int | None = None

    def to_text_output(self) -> str:
        """The text the model reads: the reference's format, byte for byte."""
        match self.exit_status:
            case Exited(code):
                status = f"Process exited with code {code}"
            case Ongoing(session_id):
                status = f"Process running with session ID {session_id}"
        lines = [f"Wall time: {_as_f32(self.wall_time):.3f} seconds", status]
        if self.original_token_count is not None:
            lines.append(f"Warning: truncated output (original token count: {self.original_token_count})")
        if self.pending_input_bytes:
            lines.append(
                f"Warning: {self.pending_input_bytes} bytes of input not yet written "
                "(the process is not reading its input)"
            )
        lines.append("Output:")
        lines.append(self.output)
        return "\n".join(lines)
