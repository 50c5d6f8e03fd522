"""JSON schemas of a tool's arguments, derived from its parameter dataclass.

The reference's schemas list the properties sorted by name, each with its type and
description, the required ones, and ``additionalProperties: false``. Which properties a
schema lists depends on the parameter groups asked for (the reference's, streamshell's
extras, the shell tool's escalation fields); ``strict`` gives the form OpenAI's strict
function calling demands. For the tools current Codex's unified exec has (``exec_command``,
``write_stdin``), the ``unified`` profile lists the parameters that their
:class:`~streamshell.params.Unified` declarations advertise, with their texts, as Codex does;
streamshell's own tools (``list_sessions``, ``kill_session``, ``shell``) have one schema in
every profile.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._parsing import Kind
from ..params import Declared, Group, Params, declared, has_unified_form
from ..profiles import Profile

JsonObject = dict[str, Any]

_JSON_TYPES = {
    Kind.STRING: "string",
    Kind.BOOL: "boolean",
    Kind.U32: "number",
    Kind.I32: "number",
    Kind.U64: "number",
    Kind.USIZE: "number",
    Kind.STRING_LIST: "array",
    Kind.ENVIRONMENT: "array",
}
"""The JSON type a model sees for each wire type (the reference says ``number`` for integers)."""


def _property(d: Declared) -> JsonObject:
    """One property, keys in the reference's order: type, its element type, description.

    An environment is advertised as a list of ``NAME=value`` strings: a map of any names needs
    ``additionalProperties`` to be a schema, which Codex 0.29 rejects (it then drops the whole
    tool) and OpenAI's strict mode cannot express; the object form is still accepted.
    """
    prop: JsonObject = {"type": _JSON_TYPES[d.field.kind]}
    if d.field.kind in (Kind.STRING_LIST, Kind.ENVIRONMENT):
        prop["items"] = {"type": "string"}
    if d.field.choices:
        prop["enum"] = list(d.field.choices)
    prop["description"] = d.doc.description
    return prop


def _unified_property(d: Declared) -> JsonObject:
    """One property as current Codex writes it: type, description, then its variants or items."""
    assert d.doc.unified is not None
    prop: JsonObject = {"type": _JSON_TYPES[d.field.kind], "description": d.doc.unified.description}
    if d.field.choices:
        prop["enum"] = list(d.field.choices)
    if d.field.kind in (Kind.STRING_LIST, Kind.ENVIRONMENT):
        prop["items"] = {"type": "string"}
    return prop


def _strict(prop: JsonObject) -> JsonObject:
    """``prop`` that also accepts null (strict mode's way of saying "optional")."""
    nullable = {**prop, "type": [prop["type"], "null"]}
    if "enum" in prop:
        nullable["enum"] = [*prop["enum"], None]
    return nullable


def parameters_schema(
    params: type[Params],
    *,
    groups: Collection[Group] = (Group.REFERENCE,),
    strict: bool = False,
    profile: Profile = Profile.REFERENCE,
) -> JsonObject:
    """The JSON schema of ``params`` listing the parameters of ``groups`` (for the unified
    profile's form of a Codex tool: the ones it advertises, whatever ``groups`` says).

    ``strict`` makes every property required and the optional ones nullable (null means
    the default).
    """
    if profile is Profile.UNIFIED and has_unified_form(params):
        chosen = [d for d in declared(params, profile) if d.advertised_unified]
        props = {d.field.name: _unified_property(d) for d in chosen}
    else:
        chosen = [d for d in declared(params) if d.doc.group in groups]
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
