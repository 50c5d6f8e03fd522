"""What the subcommands share: exit codes, usage errors, and flags derived from declarations.

The session manager's user options (:func:`~streamshell._engine.options.user_options`)
become flags here, with the defaults, checks and help declared in
:class:`~streamshell._engine.options.ManagerOptions`; the tool list is checked against the
tools' names.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from .._engine.options import ManagerOptions, Rejected, option_doc, user_options
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


def _flag_value(f: dataclasses.Field[Any]) -> Callable[[str], Any]:
    """Parse a flag's text with the option's own rule (a number first, for numeric options)."""
    rule = option_doc(f).rule
    numeric = str(f.type).startswith("int")

    def parse(text: str) -> Any:
        value: Any = int(text) if numeric and text.lstrip("-").isdigit() else text
        try:
            return rule.convert(value)
        except Rejected:
            raise argparse.ArgumentTypeError(f"{text!r} is not {rule.expected}") from None

    return parse


def add_manager_flags(parser: argparse.ArgumentParser, *, serving: bool = False) -> None:
    """A flag for each user option of the session manager: ``max_sessions`` is ``--max-sessions N``,
    a boolean ``--name/--no-name``. An option with a command-line name of its own uses it; one
    that ``serve`` (``serving``) defaults differently also gets ``--no-NAME`` for None (no
    recording: ``--transcripts DIR`` / ``--no-transcripts``)."""
    for f in user_options():
        doc = option_doc(f)
        flag = "--" + (doc.flag or f.name).replace("_", "-")
        if doc.serving is not None:
            default = doc.serving() if serving else f.default
            shown = f"default: {default}" if default is not None else "default: none"
            group = parser.add_mutually_exclusive_group()
            group.add_argument(
                flag,
                dest=f.name,
                type=_flag_value(f),
                default=default,
                metavar="DIR",
                help=f"{doc.help} ({shown})",
            )
            group.add_argument(
                "--no-" + flag[2:], dest=f.name, action="store_const", const=None, help=doc.serving_off
            )
        elif str(f.type) == "bool":
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=f.default,
                help=f"{doc.help} (default: {'yes' if f.default else 'no'})",
            )
        else:
            shown = "" if f.default is None else f" (default {f.default})"
            parser.add_argument(flag, type=_flag_value(f), default=f.default, help=doc.help + shown)


def manager_options(args: argparse.Namespace) -> ManagerOptions:
    """The session manager's options from the flags :func:`add_manager_flags` added."""
    return ManagerOptions(**{f.name: getattr(args, f.name) for f in user_options()})
