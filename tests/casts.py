"""Reading casts in tests: their events, and what the real ``asciinema`` player prints for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ASCIINEMA = Path(sys.executable).with_name("asciinema")
"""``asciinema`` from PyPI (the test extra), beside this interpreter."""


def played(path: str | Path) -> bytes:
    """What ``asciinema cat`` writes for the cast: its output events, in order, as a terminal gets them."""
    if not ASCIINEMA.exists():
        raise AssertionError(f"{ASCIINEMA} is missing: install the test extra (pip install -e '.[test]')")
    done = subprocess.run(
        [str(ASCIINEMA), "cat", str(path)],
        capture_output=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no /dev/tty: it must not put the test's terminal in raw mode
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def events(path: str | Path) -> tuple[dict[str, Any], list[list[Any]]]:
    """The cast's header and events."""
    header, *lines = Path(path).read_text(encoding="utf-8").splitlines()
    return json.loads(header), [json.loads(line) for line in lines]


def cast_files(directory: Path) -> list[Path]:
    """Every file in a transcript directory (casts and any tail segments), by name."""
    return sorted(p for p in directory.iterdir() if p.is_file())
