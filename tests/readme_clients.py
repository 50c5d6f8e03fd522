"""The README's "Clients" section, read by the tests so that they follow it literally.

Each client's configuration in README.md is a fenced block preceded by ``<!-- client: NAME -->``.
The tests take those blocks as they are, replacing only the placeholder path of the installed
``streamshell`` command (and the token of an HTTP server), and drive the real client with them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
PLACEHOLDER = "/path/to/streamshell/.venv/bin/streamshell"
"""How the README spells the installed command."""

STREAMSHELL = str(Path(sys.executable).parent / "streamshell")
"""The command installed in the test's virtual environment."""

_BLOCK = re.compile(r"<!-- client: (?P<name>[\w.-]+) -->\n```\w*\n(?P<body>.*?)```", re.S)


def client_blocks() -> dict[str, str]:
    """Every client's block, by name, as the README has it."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(README.read_text())}


def client_config(name: str, **replacements: str) -> str:
    """Client ``name``'s block with this environment's ``streamshell`` command in it (and each
    ``replacements`` key, written ``<key>`` in the README, replaced by its value)."""
    blocks = client_blocks()
    assert name in blocks, f"README.md has no <!-- client: {name} --> block (it has {sorted(blocks)})"
    text = blocks[name]
    assert PLACEHOLDER in text or replacements, f"README block {name} does not name {PLACEHOLDER}"
    text = text.replace(PLACEHOLDER, STREAMSHELL)
    for key, value in replacements.items():
        assert f"<{key}>" in text, f"README block {name} has no <{key}>"
        text = text.replace(f"<{key}>", value)
    return text
