"""Running one measurement in a fresh interpreter, for a clean memory baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROBE_TIMEOUT = 600.0


def run_probe(name: str, *, pythonpath: str | None = None, **arguments: Any) -> dict[str, Any]:
    """Run ``benchmarks.probe NAME`` in a new interpreter and return the JSON it prints last.

    Memory figures taken in the benchmark's own process would carry whatever earlier
    metrics left in its heap; a new process starts from a known baseline. ``pythonpath``
    puts another ``streamshell`` source tree first (an earlier engine, for comparison).
    """
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", name, json.dumps(arguments)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe {name} failed with exit code {done.returncode}:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result
