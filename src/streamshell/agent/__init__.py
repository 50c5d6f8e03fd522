"""The agent: ``streamshell agent "task"``'s loop on the OpenAI Responses API (the ``openai`` extra),
its events and displays, and its config file.

:mod:`.loop` imports the OpenAI SDK; :mod:`.display` and :mod:`.config` import nothing optional, so
the command line can read the configuration and show events without it.
"""

from typing import Any

from .._moved import moved_name


def __getattr__(name: str) -> Any:
    return moved_name(__name__, name)
