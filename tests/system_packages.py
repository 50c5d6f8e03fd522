"""Debian packages the tests need (Chromium for the page's browser test), installed when missing.

As root on a Debian-like system with ``apt-get``, a missing package is installed under a file
lock (two test runs at once install once: the second waits, then finds it there) and checked.
Otherwise the error says exactly what to install: nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from npm_cache import CACHE, CacheError, _locked

APT_TIMEOUT = 1200.0
"""Seconds an install (download included) may take."""


def debian_package(program: str, packages: tuple[str, ...]) -> Path:
    """``program`` (an absolute path), installing ``packages`` first when it is missing."""
    path = Path(program)
    if _works(path):
        return path
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise CacheError(
            f"{program} is missing and this run cannot install it (it needs root and apt-get): "
            f"install it with `sudo apt-get install {' '.join(packages)}`"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / "apt.lock"):
        if _works(path):  # another run installed it meanwhile
            return path
        started = time.monotonic()
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        lock_wait = ["-o", "DPkg::Lock::Timeout=600"]  # apt's own lock: another program may hold it
        install = [apt, "install", "-y", "--no-install-recommends", *lock_wait, *packages]
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT)
        if done.returncode != 0:  # the package lists may be missing or stale: fetch them, try again
            subprocess.run([apt, "update", *lock_wait], capture_output=True, env=env, timeout=APT_TIMEOUT)
            done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT)
        if done.returncode != 0 or not _works(path):
            raise CacheError(
                f"`apt-get install {' '.join(packages)}` failed ({done.returncode}): {done.stderr[-1500:]}"
            )
        print(f"installed {' '.join(packages)} in {time.monotonic() - started:.0f} s")
    return path


def _works(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
