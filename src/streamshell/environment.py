"""The environment a session's process starts with.

The reference passed its whole environment, API key included, to every command
the model ran. streamshell inherits the environment too (tools need PATH, HOME,
proxies, ...) but drops variables that look like credentials, and forces pagers
and colours off so that ``git log`` cannot hang on ``less`` and output carries no
colour escapes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

DEFAULT_DROP_ENV_CONTAINING = ("KEY", "SECRET", "TOKEN", "PASSWORD")
"""Variables whose upper-cased name contains one of these are not passed on."""

FORCED_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GH_PAGER": "cat", "NO_COLOR": "1"}
"""Set for every session (overridable per manager or per call)."""

DEFAULT_TERM = "xterm"
"""TERM for PTY sessions when the manager's own environment has none."""


def child_environment(
    base: Mapping[str, str],
    *,
    drop_containing: Iterable[str],
    overrides: Iterable[Mapping[str, str] | None],
    tty: bool,
) -> dict[str, str]:
    """``base`` minus credential-like names, plus the forced variables, plus ``overrides`` in order."""
    markers = tuple(m.upper() for m in drop_containing)
    env = _without_credentials(base, markers)
    env.update(FORCED_ENV)
    if tty:
        env.setdefault("TERM", DEFAULT_TERM)
    for layer in overrides:
        if layer:
            env.update(layer)
    return env


_filtered_environ: dict[tuple[str, ...], tuple[dict[bytes, bytes], dict[str, str]]] = {}
"""Per marker set: the ``os.environ`` bytes it was filtered from, and the result."""


def _without_credentials(base: Mapping[str, str], markers: tuple[str, ...]) -> dict[str, str]:
    """A new dict: ``base`` minus the names whose upper case contains one of ``markers``.

    For ``os.environ`` the result is cached until ``os.environ`` changes: decoding it item
    by item on every spawn cost ~40 us of a ~1.5 ms ``exec_command`` (BENCHMARKS.md, spawn
    row). CPython keeps ``os.environ`` as a dict of bytes (``_data``, updated by every
    assignment), which compares with the cached copy at C speed; where that dict is
    missing, the environment is filtered every time.
    """
    raw = getattr(base, "_data", None) if base is os.environ else None
    if isinstance(raw, dict):
        cached = _filtered_environ.get(markers)
        if cached is not None and cached[0] == raw:
            return dict(cached[1])
    env = {k: v for k, v in base.items() if not any(m in k.upper() for m in markers)}
    if isinstance(raw, dict):
        if len(_filtered_environ) >= 16:
            _filtered_environ.clear()
        _filtered_environ[markers] = (dict(raw), env)
    return dict(env)


def check_env_entry(name: str, value: str) -> str | None:
    """Why ``name=value`` cannot be passed to a process, or None."""
    if not name or "=" in name:
        return f"environment variable name {name!r} must be non-empty and contain no '='"
    if "\0" in name or "\0" in value:
        return f"environment variable {name!r} contains a NUL byte"
    return None
