"""The tools layer: the registry of tools, their schemas and API shapes, the one dispatcher,
the one-shot shell tool, Codex's tool configuration, and adapters for model SDKs.

Depends on the engine (:mod:`streamshell._engine`) through the :class:`.backend.SessionBackend`
protocol; knows nothing of MCP or the command line.
"""

from typing import Any

from .._moved import moved_name


def __getattr__(name: str) -> Any:
    return moved_name(__name__, name)
