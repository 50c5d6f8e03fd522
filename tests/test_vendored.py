"""The page's JavaScript and CSS are exactly the npm releases ``scripts/vendor_ui.py`` pins (packed
afresh from the registry and compared byte for byte), each beside its licence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_vendored_files_are_the_pinned_npm_releases() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_ui.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
