"""The tools' parameters: each one declared once, as a field of a frozen dataclass.

A parameter's name, Python type, default, description and the schemas that advertise it
live here and nowhere else. Everything else derives from these declarations: the JSON
schemas given to models (:mod:`streamshell.tools.schema`), the argument parser with
serde_json's error texts (:mod:`streamshell._parsing`), and the checks of values set from
Python. Adding a parameter is one field here plus its behaviour; new fields go last, so
positional construction keeps working.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self, cast

import regex

from ._parsing import (
    Field,
    Kind,
    at_most,
    check_field,
    decode_mapping,
    decode_struct,
    environment_entries,
    no_nul_byte,
)
from .errors import InvalidArgumentsError
from .profiles import Profile

DEFAULT_EXEC_YIELD_TIME_MS = 10_000
DEFAULT_WRITE_YIELD_TIME_MS = 250
DEFAULT_MAX_OUTPUT_TOKENS = 10_000
DEFAULT_SHELL = "/bin/bash"
MAX_SHELL_TIMEOUT_MS = 600_000
"""The longest ``timeout_ms`` the one-shot shell tool accepts: a call blocks the agent that long."""

RAW_VIEW = "raw"
"""The output as printed, the reference's bytes (the default)."""
TEXT_VIEW = "text"
"""Escape sequences removed, carriage returns and backspaces applied, line by line."""
SCREEN_VIEW = "screen"
"""The terminal's screen as an emulator draws it."""
VIEWS = (RAW_VIEW, TEXT_VIEW, SCREEN_VIEW)

WAIT_FOR_FLAGS = regex.MULTILINE | regex.VERSION0
"""``wait_for`` is a Python (``re``-compatible) pattern in which ``^`` and ``$`` match at every line."""


def compile_wait_for(pattern: str) -> regex.Pattern[str]:
    """The compiled ``wait_for`` pattern (the ``regex`` module: ``re``'s syntax, matching that can
    be time-boxed); raises ``regex.error`` for a bad one."""
    return regex.compile(pattern, WAIT_FOR_FLAGS)


def _pattern_problem(value: Any) -> str | None:
    try:
        compile_wait_for(value)
    except regex.error as e:
        return f"not a valid regular expression: {e}"
    return None


class Group(enum.Enum):
    """Which tool schemas advertise a parameter. Every declared parameter is always accepted."""

    REFERENCE = "reference"
    """In the reference's schema, and so in every schema."""
    EXTENDED = "extended"
    """A streamshell extra: advertised by the extended schema (the MCP server's default)."""
    ESCALATION = "escalation"
    """The one-shot shell tool's approval fields, advertised only by its workspace-write variant."""
    UNIFIED = "unified"
    """Only current Codex's unified exec has it: accepted and advertised by that profile only."""


_SAME: Any = object()
"""A :class:`Unified` default that is the parameter's own."""


@dataclass(frozen=True)
class Unified:
    """How current Codex's unified exec (profile ``unified``) has a parameter, where it differs.

    ``description`` None: not in that profile's schema (still accepted). ``kind``: the Rust
    type it deserializes into there, when that differs (serde names it in errors).
    """

    description: str | None
    default: Any = _SAME
    kind: Kind | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParamDoc:
    """What a schema says about a parameter, and how the parser treats it."""

    description: str
    group: Group
    kind: Kind | None
    """The wire type when the Python type does not say it (``u32`` rather than ``u64``)."""
    aliases: tuple[str, ...]
    """Other names the parameter is accepted under (serde's ``alias``); never advertised."""
    unified: Unified | None
    """The parameter in the unified profile; None: not in its schema, same type and default."""
    choices: tuple[str, ...]
    """The only values a string parameter takes (advertised as the schema's ``enum``)."""
    check: Callable[[Any], str | None] | None
    """Why a well-typed value is still refused, or None (a regular expression that does not compile)."""


_DOC = "streamshell.param"

_KINDS = {
    "str": Kind.STRING,
    "int": Kind.U64,
    "bool": Kind.BOOL,
    "Mapping[str, str]": Kind.ENVIRONMENT,
    "tuple[str, ...]": Kind.STRING_LIST,
}
"""The wire type of each Python type a parameter may have (``T | None`` makes it nullable)."""


def doc(
    description: str,
    *,
    group: Group = Group.REFERENCE,
    kind: Kind | None = None,
    aliases: tuple[str, ...] = (),
    unified: Unified | None = None,
    choices: tuple[str, ...] = (),
    check: Callable[[Any], str | None] | None = None,
) -> dict[str, ParamDoc]:
    """A parameter's :class:`ParamDoc`, as the metadata of its dataclass field."""
    return {_DOC: ParamDoc(description, group, kind, aliases, unified, choices, check)}


def optional(
    description: str,
    *,
    group: Group = Group.REFERENCE,
    aliases: tuple[str, ...] = (),
    unified: Unified | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """A parameter whose default is None (the tool's own default applies)."""
    return field(
        default=None, metadata=doc(description, group=group, aliases=aliases, unified=unified, check=check)
    )


@dataclass(frozen=True)
class Declared:
    """One parameter as the parser (``field``) and the schemas (``doc``) see it."""

    field: Field
    doc: ParamDoc
    default: Any

    @property
    def advertised_unified(self) -> bool:
        """Whether the unified profile's schema lists the parameter."""
        return self.doc.unified is not None and self.doc.unified.description is not None


_DECLARED: dict[tuple[type[Any], Profile], tuple[Declared, ...]] = {}


def declared(params: type[Params], profile: Profile = Profile.REFERENCE) -> tuple[Declared, ...]:
    """The parameters of a params class as ``profile`` has them, in declaration order (worked out
    once per class and profile)."""
    found = _DECLARED.get((params, profile))
    if found is None:
        found = _DECLARED[params, profile] = _declare(params, profile)
    return found


def _declare(params: type[Params], profile: Profile) -> tuple[Declared, ...]:
    out = []
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cast(Any, params))
    for f in fields:
        doc: ParamDoc = f.metadata[_DOC]
        type_text = str(f.type)
        nullable = type_text.endswith(" | None")
        kind = doc.kind or _KINDS[type_text.removesuffix(" | None")]
        default, choices = f.default, doc.choices
        if profile is Profile.UNIFIED and doc.unified is not None:
            kind = doc.unified.kind or kind
            choices = doc.unified.choices
            if doc.unified.default is not _SAME:
                default = doc.unified.default
        required = default is dataclasses.MISSING
        field = Field(f.name, kind, required, nullable, doc.aliases, choices, doc.check)
        out.append(Declared(field, doc, default))
    return tuple(out)


def has_unified_form(params: type[Params]) -> bool:
    """Whether current Codex's unified exec has this tool (its parameters declare how): the unified
    profile then advertises them as Codex does; streamshell's own tools keep their one schema."""
    return any(d.doc.unified is not None for d in declared(params))


_CONTAINERS = (Kind.ENVIRONMENT, Kind.STRING_LIST)
"""The wire types whose values are stored in a normal form."""


def _accepted(params: type[Params], profile: Profile) -> list[Field]:
    """The fields a tool call may give under ``profile`` (a unified-only one is unknown elsewhere)."""
    return [
        d.field
        for d in declared(params, profile)
        if profile is Profile.UNIFIED or d.doc.group is not Group.UNIFIED
    ]


def _normalized(field: Field, value: Any) -> Any:
    """The stored form of a value: an environment a plain dict, other lists tuples (the dataclass is
    frozen)."""
    if field.kind is Kind.ENVIRONMENT and value is not None:
        return environment_entries(value)
    if isinstance(value, list):
        return tuple(value)
    return value


class Params:
    """Parsing and checking shared by the parameter dataclasses.

    Values set from Python are checked by the same rules as values parsed from JSON, and
    once: :meth:`from_json` checks each value where it stands in the text (for serde's
    positions) and then builds the object without checking again.
    """

    def __post_init__(self) -> None:
        for d in declared(type(self)):
            value = getattr(self, d.field.name)
            problem = check_field(d.field, value)
            if problem:
                raise InvalidArgumentsError(problem)
            if d.field.kind in _CONTAINERS:
                object.__setattr__(self, d.field.name, _normalized(d.field, value))
        self._check_together()

    @classmethod
    def _from_checked(cls, values: Mapping[str, Any], profile: Profile) -> Self:
        obj = object.__new__(cls)
        for d in declared(cls, profile):
            object.__setattr__(obj, d.field.name, _normalized(d.field, values.get(d.field.name, d.default)))
        obj._check_together()
        return obj

    def _check_together(self) -> None:
        """Checks of values that are fine alone but not together; raises InvalidArgumentsError."""

    @classmethod
    def from_json(cls, arguments: str, profile: Profile = Profile.REFERENCE) -> Self:
        """Parse a tool call's JSON ``arguments`` string, with ``profile``'s types and defaults.

        Raises :class:`InvalidArgumentsError` whose text is the reference's
        ``failed to parse function arguments: ...`` message.
        """
        return cls._from_checked(decode_struct(arguments, cls.__name__, _accepted(cls, profile)), profile)

    @classmethod
    def from_arguments(cls, arguments: object, profile: Profile = Profile.REFERENCE) -> Self:
        """Check already-parsed arguments (an MCP ``tools/call``): same rules, no positions.
        Anything but a mapping or None is refused with serde's ``invalid type`` text."""
        return cls._from_checked(decode_mapping(arguments, cls.__name__, _accepted(cls, profile)), profile)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON-ready arguments (all fields, defaults included)."""
        return {d.field.name: getattr(self, d.field.name) for d in declared(type(self))}


_MAX_OUTPUT_TOKENS = "The maximum number of tokens to output."
_ESCALATE = (
    "Whether to request escalated permissions. "
    "Set to true if command needs to be run without sandbox restrictions"
)
_JUSTIFICATION = (
    "Only set if with_escalated_permissions is true. "
    "1-sentence explanation of why we want to run this command."
)
_SESSION_ID = "The ID of the exec_command session."
_WAIT_FOR = (
    "A regular expression (Python syntax; ^ and $ match at each line): return as soon as the output "
    "matches it (e.g. a server's ready line), instead of waiting out yield_time_ms."
)
_VIEW = (
    'How to show the output: "raw" (as printed, the default), "text" (escape codes removed, '
    'progress bars and backspaces applied: what a person reads), or "screen" (the terminal\'s current '
    "screen, for full-screen programs such as less, top or curses menus)."
)


def _wait_for() -> Any:
    return field(default=None, metadata=doc(_WAIT_FOR, group=Group.EXTENDED, check=_pattern_problem))


def _view() -> Any:
    return field(default=RAW_VIEW, metadata=doc(_VIEW, group=Group.EXTENDED, choices=VIEWS))


_UNIFIED_MAX_OUTPUT_TOKENS = Unified(
    "Output token budget. Defaults to 10000 tokens; larger requests may be capped by policy.", kind=Kind.USIZE
)


@dataclass(frozen=True)
class ExecCommandParams(Params):
    """Arguments of ``exec_command``: run ``cmd`` with ``shell -lc`` (``-c`` when not login).

    ``workdir``, ``env`` and ``tty`` are streamshell extras: the working directory
    (default: the manager's), extra environment variables, and ``tty=False`` to run
    on pipes instead of a PTY.
    """

    cmd: str = field(
        metadata=doc("The shell command to execute.", unified=Unified("Shell command to execute."))
    )
    yield_time_ms: int = field(
        default=DEFAULT_EXEC_YIELD_TIME_MS,
        metadata=doc(
            "The maximum time in milliseconds to wait for output.",
            unified=Unified(
                "Wait before yielding output. Defaults to 10000 ms; effective range is 250-30000 ms."
            ),
        ),
    )
    max_output_tokens: int = field(
        default=DEFAULT_MAX_OUTPUT_TOKENS,
        metadata=doc(_MAX_OUTPUT_TOKENS, unified=_UNIFIED_MAX_OUTPUT_TOKENS),
    )
    shell: str = field(
        default=DEFAULT_SHELL,
        metadata=doc(
            'The shell to use. Defaults to "/bin/bash".',
            unified=Unified("Shell binary to launch. Defaults to the user's default shell."),
        ),
    )
    login: bool = field(
        default=True,
        metadata=doc(
            "Whether to run the command as a login shell. Defaults to true.",
            unified=Unified("Request login-shell startup. Omit to inherit.", default=False),
        ),
    )
    workdir: str | None = optional(
        "The working directory for the command. Defaults to the server's.",
        group=Group.EXTENDED,
        unified=Unified("Working directory for the command. Defaults to the turn cwd."),
        check=no_nul_byte,
    )
    env: Mapping[str, str] | None = optional(
        'Extra environment variables for the command, as "NAME=value" strings.', group=Group.EXTENDED
    )
    tty: bool = field(
        default=True,
        metadata=doc(
            "Whether to run the command in a pseudo-terminal. Defaults to true. false runs it on pipes: "
            "much faster for bulk output, no echo and no \\r\\n; \\u0003 still interrupts it.",
            group=Group.EXTENDED,
            unified=Unified(
                "True allocates a PTY for the command; false or omitted uses plain pipes.", default=False
            ),
        ),
    )
    sandbox_permissions: str | None = optional(
        "Per-command sandbox override (unified profile; streamshell does not sandbox).",
        group=Group.UNIFIED,
        unified=Unified(
            "Per-command sandbox override. Defaults to `use_default`; use `require_escalated` for "
            "unsandboxed execution.",
            choices=("use_default", "require_escalated"),
        ),
    )
    justification: str | None = optional(
        "Approval question (unified profile; streamshell asks for no approval).",
        group=Group.UNIFIED,
        unified=Unified("User-facing approval question for `require_escalated`; omit otherwise."),
    )
    prefix_rule: tuple[str, ...] | None = optional(
        "Reusable approval prefix (unified profile; streamshell asks for no approval).",
        group=Group.UNIFIED,
        unified=Unified(
            'Reusable approval prefix for `cmd`, only with `sandbox_permissions: "require_escalated"`; '
            'for example ["git", "pull"].'
        ),
    )
    wait_for: str | None = _wait_for()
    view: str = _view()

    def _check_together(self) -> None:
        if self.view == SCREEN_VIEW and not self.tty:
            raise InvalidArgumentsError(
                'view: "screen" needs a terminal, and tty is false: use "text" (or "raw")'
            )


@dataclass(frozen=True)
class WriteStdinParams(Params):
    """Arguments of ``write_stdin``: type ``chars`` into session ``session_id``, then collect output."""

    session_id: int = field(
        metadata=doc(
            _SESSION_ID,
            kind=Kind.U32,
            unified=Unified("Identifier of the running unified exec session.", kind=Kind.I32),
        )
    )
    chars: str = field(
        metadata=doc(
            "The characters to write to stdin.",
            unified=Unified(
                "Bytes to write to stdin. Defaults to empty, which polls without writing.", default=""
            ),
        )
    )
    yield_time_ms: int = field(
        default=DEFAULT_WRITE_YIELD_TIME_MS,
        metadata=doc(
            "The maximum time in milliseconds to wait for output after writing.",
            unified=Unified(
                "Wait before yielding output. Non-empty writes default to 250 ms and cap at 30000 ms; "
                "empty polls wait 5000-300000 ms by default."
            ),
        ),
    )
    max_output_tokens: int = field(
        default=DEFAULT_MAX_OUTPUT_TOKENS,
        metadata=doc(_MAX_OUTPUT_TOKENS, unified=_UNIFIED_MAX_OUTPUT_TOKENS),
    )
    wait_for: str | None = _wait_for()
    view: str = _view()


@dataclass(frozen=True)
class KillSessionParams(Params):
    """Arguments of ``kill_session``: a session, and a budget for its last output."""

    session_id: int = field(metadata=doc(_SESSION_ID, kind=Kind.U32))
    max_output_tokens: int = field(default=DEFAULT_MAX_OUTPUT_TOKENS, metadata=doc(_MAX_OUTPUT_TOKENS))


@dataclass(frozen=True)
class ListSessionsParams(Params):
    """Arguments of ``list_sessions``: none."""


@dataclass(frozen=True)
class ShellToolCallParams(Params):
    """Arguments of the classic one-shot ``shell`` tool: run the argv ``command`` to completion.

    ``timeout_ms`` (also accepted as ``timeout``, as the reference does) kills the
    command when it runs longer; None means the default. ``with_escalated_permissions``
    and ``justification`` belong to the on-request approval variant of the tool; they are
    accepted, and ignored, since streamshell neither sandboxes nor asks for approval.
    """

    command: tuple[str, ...] = field(metadata=doc("The command to execute"))
    workdir: str | None = optional("The working directory to execute the command in", check=no_nul_byte)
    timeout_ms: int | None = optional(
        "The timeout for the command in milliseconds",
        aliases=("timeout",),
        check=at_most(MAX_SHELL_TIMEOUT_MS, f"{MAX_SHELL_TIMEOUT_MS // 60_000} minutes"),
    )
    with_escalated_permissions: bool | None = optional(_ESCALATE, group=Group.ESCALATION)
    justification: str | None = optional(_JUSTIFICATION, group=Group.ESCALATION)
