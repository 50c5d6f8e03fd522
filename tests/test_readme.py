"""README.md as a document: what merges can break without any code noticing."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def bullets(text: str) -> list[str]:
    """Every list item: its first line and the indented lines that continue it, joined."""
    items: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if re.match(r"\s*[-*] ", line):
            current = [line.strip()]
            items.append(current)
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line.strip())
        else:
            current = None
    return [" ".join(item) for item in items]


def test_no_list_item_is_written_twice() -> None:
    """A merge that keeps both sides repeats whole bullets (review finding 18: "Live output", "One
    session manager", "HTTP security" and "Logs" appeared twice each)."""
    twice = [item[:60] for item, n in Counter(bullets(README.read_text())).items() if n > 1]
    assert not twice, f"README.md repeats these list items: {twice}"
