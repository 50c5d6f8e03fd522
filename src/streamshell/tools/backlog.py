"""A call's live output, held for a consumer slower than the output (an MCP client's progress
notifications, a cluster node's stream to its client)."""

from __future__ import annotations


def skipped_line(count: int) -> str:
    """What stands in for output a lagging consumer never received (the call's result has it)."""
    return f"…{count} characters skipped…\n"


class OutputBacklog:
    """Text fed as it arrives, taken in one piece by a consumer that may lag behind.

    At most ``max_pending`` characters wait: a flood keeps its newest part, and a
    :func:`skipped_line` stands in for the rest.
    """

    def __init__(self, max_pending: int) -> None:
        self._max_pending = max_pending
        self._pending: list[str] = []
        self._pending_len = 0
        self._skipped = 0

    def __repr__(self) -> str:
        return f"<OutputBacklog pending={self._pending_len} skipped={self._skipped} max={self._max_pending}>"

    def __bool__(self) -> bool:
        return bool(self._pending) or bool(self._skipped)

    def feed(self, text: str) -> None:
        self._pending.append(text)
        self._pending_len += len(text)
        while self._pending_len > self._max_pending and len(self._pending) > 1:
            dropped = self._pending.pop(0)
            self._pending_len -= len(dropped)
            self._skipped += len(dropped)

    def take(self) -> str:
        """Everything waiting (after a skipped line, when some was dropped); the backlog is then empty."""
        text = "".join(self._pending)
        if self._skipped:
            text = skipped_line(self._skipped) + text
        self._pending.clear()
        self._pending_len = self._skipped = 0
        return text
