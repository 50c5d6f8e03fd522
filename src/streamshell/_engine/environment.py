"""The environment a session's process starts with.

The reference passed its whole environment, API key included, to every command
the model ran. streamshell inherits the environment too (tools need PATH, HOME,
proxies, ...) but drops variables that look like credentials, and forces pagers
and colours off so that ``git log`` cannot hang on ``less`` and output carries no
colour escapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import shown

DEFAULT_DROP_ENV_CONTAINING = ("KEY", "SECRET", "TOKEN", "PASSWORD")
"""Variables whose upper-cased name contains one of these are not passed on."""

FORCED_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GH_PAGER": "cat", "NO_COLOR": "1"}
"""Set for every session (overridable per manager or per call)."""

DEFAULT_TERM = "xterm"
"""TERM for PTY sessions when the manager's own environment has none."""


def inherited_environment(base: Mapping[str, str], drop_containing: Iterable[str]) -> dict[str, str]:
    """``base`` minus the variables whose upper-cased name contains one of ``drop_containing``."""
    markers = tuple(m.upper() for m in drop_containing)
    return {k: v for k, v in base.items() if not any(m in k.upper() for m in markers)}


def child_environment(inherited: Mapping[str, str], extra: Mapping[str, str], *, tty: bool) -> dict[str, str]:
    """The inherited variables, then the forced ones (and TERM on a terminal), then ``extra``."""
    env = {**inherited, **FORCED_ENV}
    if tty:
        env.setdefault("TERM", DEFAULT_TERM)
    env.update(extra)
    return env


def check_env_entry(name: str, value: str) -> str | None:
    """Why ``name=value`` cannot be passed to a process, or None."""
    if not name or "=" in name:
        return f"environment variable name {shown(name)!r} must be non-empty and contain no '='"
    if "\0" in name or "\0" in value:
        return f"environment variable {shown(name)!r} contains a NUL byte"
    return None
