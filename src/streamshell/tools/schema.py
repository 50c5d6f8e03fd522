"""JSON schemas of a tool's arguments, derived from its parameter dataclass.

The reference's schemas list the properties sorted by name, each with its type and
description, the required ones, and ``additionalProperties: false``. Which properties a
schema lists depends on the parameter groups asked for (the reference's, streamshell's
extras, the shell tool's escalation fields); ``strict`` gives the form OpenAI's strict
function calling demands.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._parsing import Kind
from ..params import Declared, Group, Params, declared

JsonObject = dict[str, Any]

_JSON_TYPES = {
    Kind.STRING: "string",
    Kind.BOOL: "boolean",
    Kind.U32: "number",
    Kind.U64: "number",
    Kind.STRING_MAP: "object",
    Kind.STRING_LIST: "array",
}
"""The JSON type a model sees for each wire type (the reference says ``number`` for integers)."""


def _property(d: Declared) -> JsonObject:
    """One property, keys in the reference's order: type, its element or value type, description."""
    prop: JsonObject = {"type": _JSON_TYPES[d.field.kind]}
    if d.field.kind is Kind.STRING_LIST:
        prop["items"] = {"type": "string"}
    elif d.field.kind is Kind.STRING_MAP:
        prop["additionalProperties"] = {"type": "string"}
    prop["description"] = d.doc.description
    return prop


def _strict(prop: JsonObject) -> JsonObject:
    """``prop`` that also accepts null (strict mode's way of saying "optional")."""
    return {**prop, "type": [prop["type"], "null"]}


def parameters_schema(
    params: type[Params], *, groups: Collection[Group] = (Group.REFERENCE,), strict: bool = False
) -> JsonObject:
    """The JSON schema of ``params`` listing the parameters of ``groups``.

    ``strict`` makes every property required and the optional ones nullable (null means
    the default), and leaves out free-form objects (``env``, a map of any names), which
    strict mode cannot express.
    """
    chosen = [d for d in declared(params) if d.doc.group in groups]
    if strict:
        chosen = [d for d in chosen if d.field.kind is not Kind.STRING_MAP]
    props = {d.field.name: _property(d) for d in chosen}
    if strict:
        props = {
            d.field.name: props[d.field.name] if d.field.required else _strict(props[d.field.name])
            for d in chosen
        }
    names = sorted(props)
    return {
        "type": "object",
        "properties": {name: props[name] for name in names},
        "required": names if strict else [d.field.name for d in chosen if d.field.required],
        "additionalProperties": False,
    }
