"""The environment a session's process starts with.

The reference passed its whole environment, API key included, to every command
the model ran. streamshell inherits the environment too (tools need PATH, HOME,
proxies, ...) but drops variables that look like credentials: by name, and any whose
value is a URL carrying a password (``postgres://user:pw@host``, ``redis://:pw@host``).
It forces pagers and colours off so that ``git log`` cannot hang on ``less`` and
output carries no colour escapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

DEFAULT_DROP_ENV_CONTAINING = (
    "KEY",
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "_PASS",
    "_PAT_",
    "_PWD_",
    "_DSN_",
    "_AUTH_",
    "WEBHOOK",
    "CREDENTIAL",
    "PRIVATE",
    "COOKIE",
    "CONNECTION_STRING",
)
"""Markers of credential names. A marker matches when it occurs in the upper-cased name with an
underscore added at each end: ``_PAT_`` matches ``GH_PAT`` but not ``PATH``, ``_PASS``
matches ``DB_PASS`` and ``PASSPHRASE`` but not ``BYPASS``, ``_PWD_`` matches ``MYSQL_PWD``
(and ``PWD``, which every shell sets again) but not ``OLDPWD``."""

URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/@:]*:[^\s/@]+@", re.IGNORECASE)
"""A URL whose user part carries a password: such a value is never passed on, whatever its name."""

FORCED_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GH_PAGER": "cat", "NO_COLOR": "1"}
"""Set for every session (overridable per manager or per call)."""

DEFAULT_TERM = "xterm"
"""TERM for PTY sessions when the manager's own environment has none."""


def inherited_environment(base: Mapping[str, str], drop_containing: Iterable[str]) -> dict[str, str]:
    """``base`` minus the variables a marker of ``drop_containing`` matches (see
    :data:`DEFAULT_DROP_ENV_CONTAINING`) and those whose value is a URL with a password."""
    markers = tuple(m.upper() for m in drop_containing)
    return {
        k: v
        for k, v in base.items()
        if not any(m in f"_{k.upper()}_" for m in markers) and not URL_WITH_PASSWORD.search(v)
    }


def child_environment(inherited: Mapping[str, str], extra: Mapping[str, str], *, tty: bool) -> dict[str, str]:
    """The inherited variables, then the forced ones (and TERM on a terminal), then ``extra``."""
    env = {**inherited, **FORCED_ENV}
    if tty:
        env.setdefault("TERM", DEFAULT_TERM)
    env.update(extra)
    return env


def session_environments(
    base: Mapping[str, str], drop_containing: Iterable[str], extra: Mapping[str, str]
) -> dict[bool, dict[str, str]]:
    """What sessions start with, on a terminal (``True``) and on pipes (``False``)."""
    inherited = inherited_environment(base, drop_containing)
    return {tty: child_environment(inherited, extra, tty=tty) for tty in (True, False)}


def check_env_entry(name: str, value: str) -> str | None:
    """Why ``name=value`` cannot be passed to a process, or None."""
    if not name or "=" in name:
        problem = "must be non-empty and contain no '='"
    elif "\0" in name or "\0" in value:
        problem = "contains a NUL byte"
    else:
        return None
    from ..errors import shown  # only for a bad entry: not on the server's start-up path

    label = "environment variable name" if problem.startswith("must") else "environment variable"
    return f"{label} {shown(name)!r} {problem}"
