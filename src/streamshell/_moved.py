"""The names streamshell 0.1 had that 0.2 moved, kept importable for one release with a warning.

One table for modules (``import streamshell.manager`` still works: it is the module's new home)
and one for names the package itself exported. Each use warns (DeprecationWarning) and says
where the name went. Remove both tables in the release after 0.2.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import importlib.abc

MOVED_MODULES = {
    "streamshell.output": "streamshell.results",
    "streamshell.jsonargs": "streamshell._parsing",
    "streamshell.manager": "streamshell._engine.manager",
    "streamshell.session": "streamshell._engine.session",
    "streamshell.process": "streamshell._engine.process",
    "streamshell.spawn": "streamshell._engine.spawn",
    "streamshell.watchdog": "streamshell._engine.watchdog",
    "streamshell.environment": "streamshell._engine.environment",
    "streamshell.buffer": "streamshell._engine.buffer",
    "streamshell.truncation": "streamshell._engine.truncation",
    "streamshell.dispatch": "streamshell.tools.dispatch",
    "streamshell.shelltool": "streamshell.tools.shell",
    "streamshell.toolsconfig": "streamshell.tools.toolsconfig",
    "streamshell.server": "streamshell.mcp.server",
    "streamshell.display": "streamshell.agent.display",
    "streamshell.config": "streamshell.agent.config",
}
"""Old module -> its new home."""

MOVED_NAMES = {
    "streamshell": {
        "Captured": "streamshell._engine.buffer",
        "OutputBuffer": "streamshell._engine.buffer",
        "approx_token_count": "streamshell._engine.truncation",
        "EXEC_COMMAND_TOOL_NAME": "streamshell.tools.names",
        "WRITE_STDIN_TOOL_NAME": "streamshell.tools.names",
        "SHELL_TOOL_NAME": "streamshell.tools.names",
    },
    "streamshell.tools": {
        "responses_api_tools": "streamshell.tools.formats",
        "chat_completions_tools": "streamshell.tools.formats",
        "anthropic_tools": "streamshell.tools.formats",
        "mcp_tools": "streamshell.tools.formats",
        "EXEC_COMMAND_TOOL_NAME": "streamshell.tools.names",
        "WRITE_STDIN_TOOL_NAME": "streamshell.tools.names",
        "LIST_SESSIONS_TOOL_NAME": "streamshell.tools.names",
        "KILL_SESSION_TOOL_NAME": "streamshell.tools.names",
    },
    "streamshell.agent": {
        name: "streamshell.agent.loop"
        for name in ("Agent", "ModelError", "run_agent", "default_instructions")
    },
}
"""Package -> {old name: the module that has it now}."""


def _warn(old: str, new: str, stacklevel: int) -> None:
    message = f"{old} moved to {new}; the old name goes away in the next release"
    warnings.warn(message, DeprecationWarning, stacklevel + 1)


def moved_name(package: str, name: str) -> Any:
    """A package's ``__getattr__`` for the names it no longer has: warns once, then the name is
    the package's own (``from package import name`` looks a name up twice)."""
    module = MOVED_NAMES[package].get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    _warn(f"{package}.{name}", f"{module}.{name}", stacklevel=3)
    value = getattr(importlib.import_module(module), name)
    setattr(sys.modules[package], name, value)
    return value


class _MovedModuleFinder:
    """Imports an old module name as its new module (the same module object).

    A meta path finder and its loader by their protocols: deriving from ``importlib.abc``'s
    classes would import ``importlib.resources`` (and tempfile, pathlib, ...) with every
    ``import streamshell``, the command's start-up included.
    """

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("importlib.abc.Loader", self))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        _warn(spec.name, MOVED_MODULES[spec.name], stacklevel=1)
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """The new module is already executed."""


def install() -> None:
    """Make the old module names importable (once per interpreter)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
