"""Parameters of the tools, with the reference's names, defaults and validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from .errors import InvalidArgumentsError
from .jsonargs import Field, Kind, check_field, decode_mapping, decode_struct

DEFAULT_EXEC_YIELD_TIME_MS = 10_000
DEFAULT_WRITE_YIELD_TIME_MS = 250
DEFAULT_MAX_OUTPUT_TOKENS = 10_000
DEFAULT_SHELL = "/bin/bash"


class _Params:
    """Shared parsing and validation for the parameter dataclasses."""

    _SPEC: ClassVar[tuple[Field, ...]]
    _STRUCT: ClassVar[str]

    def __post_init__(self) -> None:
        """Validate fields set from Python the same way as fields parsed from JSON."""
        for spec in self._SPEC:
            value = getattr(self, spec.name)
            problem = check_field(spec, value)
            if problem:
                raise InvalidArgumentsError(problem)
            if isinstance(value, Mapping):
                object.__setattr__(self, spec.name, dict(value))
            elif isinstance(value, list):
                object.__setattr__(self, spec.name, tuple(value))

    @classmethod
    def from_json(cls, arguments: str) -> Self:
        """Parse a tool call's JSON ``arguments`` string.

        Raises :class:`InvalidArgumentsError` whose text is the reference's
        ``failed to parse function arguments: ...`` message.
        """
        return cls(**decode_struct(arguments, cls._STRUCT, cls._SPEC))

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any] | None) -> Self:
        """Check already-parsed arguments (an MCP ``tools/call``): same rules, no positions."""
        return cls(**decode_mapping(arguments, cls._SPEC))

    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON-ready arguments (all fields, defaults included)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class ExecCommandParams(_Params):
    """Arguments of ``exec_command``: run ``cmd`` with ``shell -lc`` (``-c`` when not login).

    ``workdir``, ``env`` and ``tty`` are streamshell extras: the working directory
    (default: the manager's), extra environment variables, and ``tty=False`` to run
    on pipes instead of a PTY.
    """

    cmd: str
    yield_time_ms: int = DEFAULT_EXEC_YIELD_TIME_MS
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    shell: str = DEFAULT_SHELL
    login: bool = True
    workdir: str | None = None
    env: Mapping[str, str] | None = None
    tty: bool = True

    _STRUCT = "ExecCommandParams"
    _SPEC = (
        Field("cmd", Kind.STRING, required=True),
        Field("yield_time_ms", Kind.U64),
        Field("max_output_tokens", Kind.U64),
        Field("shell", Kind.STRING),
        Field("login", Kind.BOOL),
        Field("workdir", Kind.STRING, nullable=True),
        Field("env", Kind.STRING_MAP, nullable=True),
        Field("tty", Kind.BOOL),
    )


@dataclass(frozen=True)
class WriteStdinParams(_Params):
    """Arguments of ``write_stdin``: type ``chars`` into session ``session_id``, then collect output."""

    session_id: int
    chars: str
    yield_time_ms: int = DEFAULT_WRITE_YIELD_TIME_MS
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS

    _STRUCT = "WriteStdinParams"
    _SPEC = (
        Field("session_id", Kind.U32, required=True),
        Field("chars", Kind.STRING, required=True),
        Field("yield_time_ms", Kind.U64),
        Field("max_output_tokens", Kind.U64),
    )


@dataclass(frozen=True)
class KillSessionParams(_Params):
    """Arguments of the ``kill_session`` tool (MCP server): a session, and a budget for its last output."""

    session_id: int
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS

    _STRUCT = "KillSessionParams"
    _SPEC = (
        Field("session_id", Kind.U32, required=True),
        Field("max_output_tokens", Kind.U64),
    )


@dataclass(frozen=True)
class ListSessionsParams(_Params):
    """Arguments of the ``list_sessions`` tool (MCP server): none."""

    _STRUCT = "ListSessionsParams"
    _SPEC = ()


@dataclass(frozen=True)
class ShellToolCallParams(_Params):
    """Arguments of the classic one-shot ``shell`` tool: run the argv ``command`` to completion.

    ``timeout_ms`` (also accepted as ``timeout``, as the reference does) kills the
    command when it runs longer; None means the default. ``with_escalated_permissions``
    and ``justification`` belong to the on-request approval variant of the tool; they are
    accepted, and ignored, since streamshell neither sandboxes nor asks for approval.
    """

    command: tuple[str, ...]
    workdir: str | None = None
    timeout_ms: int | None = None
    with_escalated_permissions: bool | None = None
    justification: str | None = None

    _STRUCT = "ShellToolCallParams"
    _SPEC = (
        Field("command", Kind.STRING_LIST, required=True),
        Field("workdir", Kind.STRING, nullable=True),
        Field("timeout_ms", Kind.U64, nullable=True, aliases=("timeout",)),
        Field("with_escalated_permissions", Kind.BOOL, nullable=True),
        Field("justification", Kind.STRING, nullable=True),
    )
