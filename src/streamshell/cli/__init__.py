"""The command line: ``serve``, ``tools``, ``call`` and ``agent`` (:mod:`.main`), the agent loop, its
displays and config file."""

from .main import main

__all__ = ["main"]
