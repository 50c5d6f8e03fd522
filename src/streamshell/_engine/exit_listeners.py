"""Who is told at once of a session that exits while no call waits on it (the MCP server's
notifications): the listeners of a session manager, local or on a cluster."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..results import ExitNotice

log = logging.getLogger(__name__)

ExitListener = Callable[[ExitNotice], None]
"""Told at once when a session exits while no call waits on it."""


class ExitListeners:
    """The listeners of one manager. A listener's failure is logged and reaches neither the other
    listeners nor whoever reports the exit (a session's reader, a node's notices)."""

    def __init__(self) -> None:
        self._listeners: list[ExitListener] = []

    def __repr__(self) -> str:
        return f"<ExitListeners {len(self._listeners)}>"

    def subscribe(self, listener: ExitListener) -> Callable[[], None]:
        """Add ``listener``; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def tell(self, notice: ExitNotice) -> None:
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                log.exception("an exit listener failed")
