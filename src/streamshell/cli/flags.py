"""What the subcommands share: exit codes, usage errors, and flags derived from declarations.

The session manager's settings (:func:`~streamshell._engine.options.settings`: its user
options, and the parts of ``limits``) become flags here, with the defaults, checks and help declared in
:class:`~streamshell._engine.options.ManagerOptions`; the tool list is checked against the
tools' names.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from .._engine.options import ManagerOptions, Rejected, Setting, options_from, settings
from ..tools.names import TOOL_NAMES

EXIT_OK = 0
EXIT_CALL_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3


class UsageError(Exception):
    """A flag or argument the user must fix (exit code 2)."""


def tool_list(text: str) -> tuple[str, ...]:
    """``--tools a,b``: names of the registry's tools."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in TOOL_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown tool(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(TOOL_NAMES)}"
        )
    return names


def positive_whole(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 picks a free port)")
    return int(text)


def _flag_value(setting: Setting) -> Callable[[str], Any]:
    """Parse a flag's text with the setting's own rule (a number first, for numeric ones; one
    item of the list for a repeated flag)."""
    rule = setting.rule
    numeric = "int" in str(setting.type)

    def parse(text: str) -> Any:
        value: Any = int(text) if numeric and text.lstrip("-").isdigit() else text
        try:
            return rule.convert([value])[0] if setting.kind == "list" else rule.convert(value)
        except Rejected:
            raise argparse.ArgumentTypeError(f"{text!r} is not {rule.expected}") from None

    return parse


def add_manager_flags(parser: argparse.ArgumentParser, *, commands_defaults: bool = True) -> None:
    """A flag for each setting of the session manager: ``max_sessions`` is ``--max-sessions N``,
    a boolean ``--name/--no-name``, a list a repeated ``--name ITEM``. ``commands_defaults``:
    the defaults of ``serve`` and ``agent`` (a sandbox), else the library's."""
    for s in settings():
        default = s.default if commands_defaults else _library_default(s)
        if s.kind == "bool":
            parser.add_argument(
                s.flag,
                dest=s.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=f"{s.help} (default: {'yes' if default else 'no'})",
            )
        elif s.off_help:
            shown = f"default: {default}" if default is not None else "default: none"
            group = parser.add_mutually_exclusive_group()
            group.add_argument(
                s.flag, dest=s.name, type=_flag_value(s), default=default, help=f"{s.help} ({shown})"
            )
            group.add_argument(
                "--no-" + s.flag[2:], dest=s.name, action="store_const", const=None, help=s.off_help
            )
        elif s.kind == "list":
            parser.add_argument(
                s.flag, dest=s.name, action="append", type=_flag_value(s), default=None, help=s.help
            )
        else:
            shown = "" if default is None else f" (default {default})"
            parser.add_argument(
                s.flag, dest=s.name, type=_flag_value(s), default=default, help=s.help + shown
            )


def _library_default(setting: Setting) -> Any:
    field = next(f for f in dataclasses.fields(ManagerOptions) if f.name == setting.option)
    return field.default if setting.attribute is None else getattr(field.default, setting.attribute)


def manager_options(args: argparse.Namespace) -> ManagerOptions:
    """The session manager's options from the flags :func:`add_manager_flags` added."""
    values = {s.name: getattr(args, s.name) for s in settings()}
    for s in settings():
        if s.kind == "list":
            values[s.name] = tuple(values[s.name] or ())
    return options_from(values)
