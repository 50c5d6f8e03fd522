"""Decode a tool call's JSON arguments with the reference's error messages.

The reference parses arguments with Rust's serde_json, and the model reads its
errors (``missing field `cmd` at line 1 column 2``). This decoder reproduces those
messages and positions (line, and column counted in bytes) for the flat objects
our tools take, and does better in two ways: a wrong type or value names the
field (``session_id: invalid type: ...``, the ``serde_path_to_error`` form), and
unknown fields are rejected, as the advertised ``additionalProperties: false``
says, instead of being silently ignored.
"""

from __future__ import annotations

import enum
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import SHOWN_CHARACTERS, InvalidArgumentsError, shown

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I64_MIN = -(2**63)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1

RECURSION_LIMIT = 128
"""serde_json's nesting limit: deeper arrays and objects are ``recursion limit exceeded``."""

LONGEST_INTEGER = len(str(I64_MIN))
"""Digits (and sign) of the longest integer literal that can fit 64 bits: longer ones are read as
floats, as serde_json reads them, so a 400-digit number is ``number out of range``."""


class Kind(enum.Enum):
    """The Rust type a field deserializes into, named as serde names it in errors."""

    STRING = "a string"
    BOOL = "a boolean"
    U32 = "u32"
    I32 = "i32"
    U64 = "u64"
    USIZE = "usize"
    STRING_LIST = "a sequence"
    ENVIRONMENT = 'a sequence of "NAME=value" strings or a map of names to values'
    """Environment variables: ``["NAME=value", ...]`` (what every schema checker accepts), or the
    ``{"NAME": "value"}`` object earlier versions advertised."""


@dataclass(frozen=True)
class Field:
    """One field of an argument struct."""

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = False
    aliases: tuple[str, ...] = ()
    """Other names the field is accepted under (serde's ``alias``); errors use ``name``."""
    choices: tuple[str, ...] = ()
    """For a string: the values it may take (a serde enum's variants), when limited."""
    check: Callable[[Any], str | None] | None = None
    """A last check of a well-typed value: why it is not accepted, or None."""


_INT_RANGES = {
    Kind.U32: (0, U32_MAX),
    Kind.I32: (I32_MIN, I32_MAX),
    Kind.U64: (0, U64_MAX),
    Kind.USIZE: (0, U64_MAX),
}
_LARGEST_FLOAT = int(sys.float_info.max)


def _rust_float(value: float) -> str:
    """Format a float as serde's error messages do (Rust ``Display`` plus a ``.0``)."""
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"


def _rust_debug_str(value: str) -> str:
    """Quote a string the way Rust's ``{:?}`` does; a long one is cut, with a count of the rest."""
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}
    cut = len(value) - SHOWN_CHARACTERS
    out = []
    for ch in value[:SHOWN_CHARACTERS]:
        if ch in escapes:
            out.append(escapes[ch])
        elif not ch.isprintable():
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    if cut > 0:
        return '"' + "".join(out) + f'…" ({cut} more characters)'
    return '"' + "".join(out) + '"'


def _unexpected(value: object) -> str:
    """serde's ``Unexpected`` description of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        if I64_MIN <= value <= U64_MAX:
            return f"integer `{value}`"
        try:
            return f"floating point `{_rust_float(float(value))}`"
        except OverflowError:
            return "number out of range"
    if isinstance(value, float):
        return f"floating point `{_rust_float(value)}`"
    if isinstance(value, str):
        return f"string {_rust_debug_str(value)}"
    if isinstance(value, list | tuple):
        return "sequence"
    if isinstance(value, Mapping):
        return "map"
    return f"{type(value).__name__} (not JSON)"


def _is_unicode(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_value(kind: Kind, value: object, *, nullable: bool = False) -> str | None:
    """Why ``value`` does not fit ``kind`` (serde's wording), or None when it does."""
    if value is None and nullable:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _LARGEST_FLOAT:
        return "number out of range"
    if kind in _INT_RANGES:
        if isinstance(value, int) and not isinstance(value, bool) and I64_MIN <= value <= U64_MAX:
            low, high = _INT_RANGES[kind]
            if low <= value <= high:
                return None
            return f"invalid value: {_unexpected(value)}, expected {kind.value}"
        return f"invalid type: {_unexpected(value)}, expected {kind.value}"
    if kind is Kind.STRING:
        if isinstance(value, str) and not _is_unicode(value):
            return "invalid unicode code point: the string holds a lone surrogate"
        ok = isinstance(value, str)
    elif kind is Kind.BOOL:
        ok = isinstance(value, bool)
    elif kind is Kind.STRING_LIST:
        ok = isinstance(value, list | tuple)
    else:
        ok = isinstance(value, Mapping | list | tuple)
    return None if ok else f"invalid type: {_unexpected(value)}, expected {kind.value}"


def check_string_map(name: str, value: Mapping[Any, Any]) -> str | None:
    """Why a ``{str: str}`` map is bad, naming the entry, or None."""
    for key, item in value.items():
        problem = check_value(Kind.STRING, key) or check_value(Kind.STRING, item)
        if problem:
            return f"{name}.{shown(key)}: {problem}"
    return None


def environment_entries(value: Mapping[Any, Any] | Sequence[Any]) -> dict[str, str]:
    """An environment given as ``["NAME=value", ...]`` or ``{"NAME": "value"}``, as a map (checked
    first with :func:`check_environment`)."""
    if isinstance(value, Mapping):
        return dict(value)
    return dict(entry.split("=", 1) for entry in value)


def check_environment(name: str, value: Mapping[Any, Any] | Sequence[Any]) -> str | None:
    """Why an environment (a list of ``NAME=value`` strings, or a map) is bad, naming the entry."""
    if isinstance(value, Mapping):
        return check_string_map(name, value)
    problem = check_string_list(name, value)
    if problem:
        return problem
    for index, entry in enumerate(value):
        if "=" not in entry[1:]:
            return f"{name}[{index}]: {_rust_debug_str(entry)} is not NAME=value"
    return None


def check_string_list(name: str, value: Sequence[Any]) -> str | None:
    """Why a ``[str]`` list is bad, naming the element by index, or None."""
    for index, item in enumerate(value):
        problem = check_value(Kind.STRING, item)
        if problem:
            return f"{name}[{index}]: {problem}"
    return None


def check_field(field: Field, value: object) -> str | None:
    """Why ``value`` cannot be ``field``, in the form ``name: problem``, or None."""
    problem = check_value(field.kind, value, nullable=field.nullable)
    if problem:
        return f"{field.name}: {problem}"
    if field.choices and value is not None and value not in field.choices:
        return f"{field.name}: unknown variant `{shown(value)}`, expected {_one_of(field.choices)}"
    if field.kind is Kind.ENVIRONMENT and isinstance(value, Mapping | list | tuple):
        return check_environment(field.name, value)
    if field.kind is Kind.STRING_LIST and isinstance(value, list | tuple):
        return check_string_list(field.name, value)
    problem = field.check(value) if field.check is not None and value is not None else None
    return f"{field.name}: {problem}" if problem else None


def at_most(limit: int, meaning: str) -> Callable[[Any], str | None]:
    """A rule for numbers: at most ``limit`` (``meaning`` says it in words, e.g. "10 minutes")."""

    def check(value: Any) -> str | None:
        if value > limit:
            return f"invalid value: integer `{value}`, expected at most {limit} ({meaning})"
        return None

    return check


def no_nul_byte(value: Any) -> str | None:
    """A rule for paths: C strings end at a NUL, so ``/tmp\\0/etc`` would silently become ``/tmp``."""
    if "\0" in value:
        return f"contains a NUL byte (at character {value.index(chr(0))}); a path cannot hold one"
    return None


def _by_name(fields: Sequence[Field]) -> dict[str, Field]:
    """Every name a field is accepted under (its own and its aliases), mapped to the field."""
    return {name: f for f in fields for name in (f.name, *f.aliases)}


def _one_of(names: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if not quoted:
        return "there are no fields"
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


class _Reader:
    """A cursor over the argument text that reports serde_json positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self._decoder = json.JSONDecoder(parse_constant=self._reject_constant, parse_int=self._integer)

    @staticmethod
    def _reject_constant(name: str) -> Any:
        raise ValueError(name)

    @staticmethod
    def _integer(literal: str) -> int | float:
        """An integer literal too long for 64 bits is read as a float (inf when huge), as serde_json
        does; Python's own ``int`` would refuse past 4300 digits."""
        return int(literal) if len(literal) <= LONGEST_INTEGER else float(literal)

    def fail(self, message: str, index: int | None = None) -> InvalidArgumentsError:
        """An error at ``index`` (default: just after what was consumed)."""
        at = self.index if index is None else min(index, len(self.text))
        before = self.text[:at]
        line = before.count("\n") + 1
        column = len(before[before.rfind("\n") + 1 :].encode("utf-8", "surrogatepass"))
        return InvalidArgumentsError(f"{message} at line {line} column {column}")

    def fail_peek(self, message: str) -> InvalidArgumentsError:
        """An error at the character being looked at (serde's ``peek_error``)."""
        return self.fail(message, self.index + 1)

    def skip_ws(self) -> str:
        """Skip JSON whitespace; return the next character, or '' at the end."""
        text = self.text
        while self.index < len(text) and text[self.index] in " \t\n\r":
            self.index += 1
        return text[self.index] if self.index < len(text) else ""

    def string(self) -> str:
        """Read a string whose opening quote is at the cursor."""
        try:
            value, self.index = self._decoder.raw_decode(self.text, self.index)
        except json.JSONDecodeError as e:
            if e.msg.startswith("Unterminated"):
                message, at = "EOF while parsing a string", len(self.text)
            elif "control character" in e.msg:
                message, at = "control character (\\u0000-\\u001F) found while parsing a string", e.pos + 1
            else:  # serde has consumed the backslash and the character after it
                message, at = "invalid escape", e.pos + 2
            raise self.fail(message, at) from None
        assert isinstance(value, str)
        return value

    def value(self) -> Any:
        """Read any JSON value at the cursor."""
        first = self.skip_ws()
        if first == "":
            raise self.fail("EOF while parsing a value", len(self.text))
        if first == '"':
            return self.string()
        start = self.index
        try:
            value, self.index = self._decoder.raw_decode(self.text, self.index)
        except RecursionError:
            raise self.fail("recursion limit exceeded", self._too_deep(start)) from None
        except (json.JSONDecodeError, ValueError) as e:
            pos = e.pos if isinstance(e, json.JSONDecodeError) else self.index
            raise self.fail("expected value", pos + 1) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail("number out of range")
        if isinstance(value, list | dict) and nesting_depth(value) > RECURSION_LIMIT:
            raise self.fail("recursion limit exceeded", self._too_deep(start))
        return value

    def _too_deep(self, start: int) -> int:
        """Just after the bracket that opens level RECURSION_LIMIT + 1, from ``start`` on."""
        text, depth, index, in_string = self.text, 0, start, False
        while index < len(text):
            ch = text[index]
            if in_string:
                if ch == "\\":
                    index += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "[{":
                depth += 1
                if depth > RECURSION_LIMIT:
                    return index + 1
            elif ch in "]}":
                depth -= 1
            index += 1
        return len(text)


def nesting_depth(value: Any) -> int:
    """How deeply ``value``'s lists and objects nest (without recursing: it may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list | dict):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def decode_struct(text: str, struct_name: str, fields: Sequence[Field]) -> dict[str, Any]:
    """Parse ``text`` as a JSON object with exactly these fields; return the given ones.

    Raises :class:`InvalidArgumentsError` with serde_json's message and position.
    """
    by_name = _by_name(fields)
    reader = _Reader(text)
    first = reader.skip_ws()
    if first != "{":
        value = reader.value()
        raise reader.fail(f"invalid type: {_unexpected(value)}, expected struct {struct_name}")
    reader.index += 1
    found: dict[str, Any] = {}
    while True:
        ch = reader.skip_ws()
        if ch == "}" and not found:
            reader.index += 1
            break
        if ch == "":
            raise reader.fail("EOF while parsing an object", len(text))
        if ch != '"':
            raise reader.fail_peek("trailing comma" if ch == "}" else "key must be a string")
        key = reader.string()
        field = by_name.get(key)
        if field is None:
            expected = _one_of([f.name for f in fields])
            raise reader.fail(f"unknown field `{shown(key)}`, expected {expected}")
        if field.name in found:
            raise reader.fail(f"duplicate field `{field.name}`")
        ch = reader.skip_ws()
        if ch == "":
            raise reader.fail("EOF while parsing an object", len(text))
        if ch != ":":
            raise reader.fail_peek("expected `:`")
        reader.index += 1
        value = reader.value()
        problem = check_field(field, value)
        if problem:
            raise reader.fail(problem)
        found[field.name] = value
        ch = reader.skip_ws()
        if ch == "":
            raise reader.fail("EOF while parsing an object", len(text))
        if ch not in ",}":
            raise reader.fail_peek("expected `,` or `}`")
        reader.index += 1
        if ch == "}":
            break
    for field in fields:
        if field.required and field.name not in found:
            raise reader.fail(f"missing field `{field.name}`")
    if reader.skip_ws():
        raise reader.fail_peek("trailing characters")
    return found


def decode_mapping(arguments: object, struct_name: str, fields: Sequence[Field]) -> dict[str, Any]:
    """Check already-parsed arguments (an MCP client sends an object, not a JSON string).

    Same rules and messages as :func:`decode_struct`, without positions. Anything but a
    mapping (or None, no arguments) is refused as serde refuses a JSON value of the wrong type.
    """
    if arguments is not None and not isinstance(arguments, Mapping):
        raise InvalidArgumentsError(f"invalid type: {_unexpected(arguments)}, expected struct {struct_name}")
    by_name = _by_name(fields)
    expected = _one_of([f.name for f in fields])
    found: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        field = by_name.get(key) if isinstance(key, str) else None
        if field is None:
            raise InvalidArgumentsError(f"unknown field `{shown(key)}`, expected {expected}")
        if field.name in found:
            raise InvalidArgumentsError(f"duplicate field `{field.name}`")
        problem = check_field(field, value)
        if problem:
            raise InvalidArgumentsError(problem)
        found[field.name] = value
    for field in fields:
        if field.required and field.name not in found:
            raise InvalidArgumentsError(f"missing field `{field.name}`")
    return found
