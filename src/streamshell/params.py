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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self, cast

from ._parsing import Field, Kind, check_field, decode_mapping, decode_struct
from .errors import InvalidArgumentsError

DEFAULT_EXEC_YIELD_TIME_MS = 10_000
DEFAULT_WRITE_YIELD_TIME_MS = 250
DEFAULT_MAX_OUTPUT_TOKENS = 10_000
DEFAULT_SHELL = "/bin/bash"


class Group(enum.Enum):
    """Which tool schemas advertise a parameter. Every declared parameter is always accepted."""

    REFERENCE = "reference"
    """In the reference's schema, and so in every schema."""
    EXTENDED = "extended"
    """A streamshell extra: advertised by the extended schema (the MCP server's default)."""
    ESCALATION = "escalation"
    """The one-shot shell tool's approval fields, advertised only by its workspace-write variant."""


@dataclass(frozen=True)
class ParamDoc:
    """What a schema says about a parameter, and how the parser treats it."""

    description: str
    group: Group
    kind: Kind | None
    """The wire type when the Python type does not say it (``u32`` rather than ``u64``)."""
    aliases: tuple[str, ...]
    """Other names the parameter is accepted under (serde's ``alias``); never advertised."""


_DOC = "streamshell.param"

_KINDS = {
    "str": Kind.STRING,
    "int": Kind.U64,
    "bool": Kind.BOOL,
    "Mapping[str, str]": Kind.STRING_MAP,
    "tuple[str, ...]": Kind.STRING_LIST,
}
"""The wire type of each Python type a parameter may have (``T | None`` makes it nullable)."""


def doc(
    description: str,
    *,
    group: Group = Group.REFERENCE,
    kind: Kind | None = None,
    aliases: tuple[str, ...] = (),
) -> dict[str, ParamDoc]:
    """A parameter's :class:`ParamDoc`, as the metadata of its dataclass field."""
    return {_DOC: ParamDoc(description, group, kind, aliases)}


def optional(description: str, *, group: Group = Group.REFERENCE, aliases: tuple[str, ...] = ()) -> Any:
    """A parameter whose default is None (the tool's own default applies)."""
    return field(default=None, metadata=doc(description, group=group, aliases=aliases))


@dataclass(frozen=True)
class Declared:
    """One parameter as the parser (``field``) and the schemas (``doc``) see it."""

    field: Field
    doc: ParamDoc
    default: Any


_DECLARED: dict[type[Any], tuple[Declared, ...]] = {}


def declared(params: type[Params]) -> tuple[Declared, ...]:
    """The parameters of a params class, in declaration order (worked out once per class)."""
    found = _DECLARED.get(params)
    if found is None:
        found = _DECLARED[params] = _declare(params)
    return found


def _declare(params: type[Params]) -> tuple[Declared, ...]:
    out = []
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cast(Any, params))
    for f in fields:
        doc: ParamDoc = f.metadata[_DOC]
        type_text = str(f.type)
        nullable = type_text.endswith(" | None")
        kind = doc.kind or _KINDS[type_text.removesuffix(" | None")]
        required = f.default is dataclasses.MISSING
        out.append(Declared(Field(f.name, kind, required, nullable, doc.aliases), doc, f.default))
    return tuple(out)


_CONTAINERS = (Kind.STRING_MAP, Kind.STRING_LIST)
"""The wire types whose values are stored in a normal form."""


def _normalized(value: Any) -> Any:
    """The stored form of a value: maps become plain dicts, lists tuples (the dataclass is frozen)."""
    if isinstance(value, Mapping):
        return dict(value)
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
                object.__setattr__(self, d.field.name, _normalized(value))

    @classmethod
    def _from_checked(cls, values: Mapping[str, Any]) -> Self:
        obj = object.__new__(cls)
        for d in declared(cls):
            object.__setattr__(obj, d.field.name, _normalized(values.get(d.field.name, d.default)))
        return obj

    @classmethod
    def from_json(cls, arguments: str) -> Self:
        """Parse a tool call's JSON ``arguments`` string.

        Raises :class:`InvalidArgumentsError` whose text is the reference's
        ``failed to parse function arguments: ...`` message.
        """
        return cls._from_checked(decode_struct(arguments, cls.__name__, [d.field for d in declared(cls)]))

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any] | None) -> Self:
        """Check already-parsed arguments (an MCP ``tools/call``): same rules, no positions."""
        return cls._from_checked(decode_mapping(arguments, [d.field for d in declared(cls)]))

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


@dataclass(frozen=True)
class ExecCommandParams(Params):
    """Arguments of ``exec_command``: run ``cmd`` with ``shell -lc`` (``-c`` when not login).

    ``workdir``, ``env`` and ``tty`` are streamshell extras: the working directory
    (default: the manager's), extra environment variables, and ``tty=False`` to run
    on pipes instead of a PTY.
    """

    cmd: str = field(metadata=doc("The shell command to execute."))
    yield_time_ms: int = field(
        default=DEFAULT_EXEC_YIELD_TIME_MS,
        metadata=doc("The maximum time in milliseconds to wait for output."),
    )
    max_output_tokens: int = field(default=DEFAULT_MAX_OUTPUT_TOKENS, metadata=doc(_MAX_OUTPUT_TOKENS))
    shell: str = field(default=DEFAULT_SHELL, metadata=doc('The shell to use. Defaults to "/bin/bash".'))
    login: bool = field(
        default=True, metadata=doc("Whether to run the command as a login shell. Defaults to true.")
    )
    workdir: str | None = optional(
        "The working directory for the command. Defaults to the server's.", group=Group.EXTENDED
    )
    env: Mapping[str, str] | None = optional(
        "Extra environment variables for the command.", group=Group.EXTENDED
    )
    tty: bool = field(
        default=True,
        metadata=doc(
            "Whether to run the command in a pseudo-terminal. Defaults to true. false runs it on pipes: "
            "much faster for bulk output, no echo and no \\r\\n; \\u0003 still interrupts it.",
            group=Group.EXTENDED,
        ),
    )


@dataclass(frozen=True)
class WriteStdinParams(Params):
    """Arguments of ``write_stdin``: type ``chars`` into session ``session_id``, then collect output."""

    session_id: int = field(metadata=doc(_SESSION_ID, kind=Kind.U32))
    chars: str = field(metadata=doc("The characters to write to stdin."))
    yield_time_ms: int = field(
        default=DEFAULT_WRITE_YIELD_TIME_MS,
        metadata=doc("The maximum time in milliseconds to wait for output after writing."),
    )
    max_output_tokens: int = field(default=DEFAULT_MAX_OUTPUT_TOKENS, metadata=doc(_MAX_OUTPUT_TOKENS))


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
    workdir: str | None = optional("The working directory to execute the command in")
    timeout_ms: int | None = optional("The timeout for the command in milliseconds", aliases=("timeout",))
    with_escalated_permissions: bool | None = optional(_ESCALATE, group=Group.ESCALATION)
    justification: str | None = optional(_JUSTIFICATION, group=Group.ESCALATION)
