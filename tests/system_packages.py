"""Debian packages the tests need (Chromium for the page's browser test), installed when missing.

The cache's rules hold for them too, with dpkg doing what a rename does for :mod:`npm_cache`:
dpkg unpacks every file beside its final name and renames it into place, and marks a package
``install ok installed`` only once all of it is unpacked and configured. So a package counts as
there only when dpkg says so for each one and the program runs (``--version``): a run never uses
another run's half-made install. As root on a Debian-like system with ``apt-get``, what is missing
or broken is (re)installed under a file lock (two test runs at once install once: the second
waits, then finds it there) and checked again. Otherwise the error says exactly what to install:
nothing is skipped.
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

INSTALLED = "install ok installed"
"""dpkg's status of a package that is wholly unpacked and configured."""


def debian_package(program: str, packages: tuple[str, ...]) -> Path:
    """``program`` (an absolute path), installing ``packages`` first when it is missing or broken."""
    path = Path(program)
    if _ready(path, packages):
        return path
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise CacheError(
            f"{program} is missing or does not run, and this run cannot install it (it needs root and "
            f"apt-get): install it with `sudo apt-get install {' '.join(packages)}`"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / "apt.lock"):
        if _ready(path, packages):  # another run installed it meanwhile
            return path
        started = time.monotonic()
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        lock_wait = ["-o", "DPkg::Lock::Timeout=600"]  # apt's own lock: another program may hold it
        # --reinstall: a package dpkg has but whose files are broken is unpacked again (a missing
        # one is installed as usual).
        install = [apt, "install", "-y", "--no-install-recommends", "--reinstall", *lock_wait, *packages]
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT)
        if done.returncode != 0:  # the package lists may be missing or stale: fetch them, try again
            subprocess.run([apt, "update", *lock_wait], capture_output=True, env=env, timeout=APT_TIMEOUT)
            done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT)
        if done.returncode != 0 or not _ready(path, packages):
            raise CacheError(
                f"`apt-get install {' '.join(packages)}` failed ({done.returncode}): {done.stderr[-1500:]}"
            )
        print(f"installed {' '.join(packages)} in {time.monotonic() - started:.0f} s")
    return path


def _ready(path: Path, packages: tuple[str, ...]) -> bool:
    """dpkg (where there is one) has every package whole, and ``path --version`` runs."""
    if not path.exists():
        return False
    if shutil.which("dpkg-query") is not None:
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}\n", *packages], capture_output=True, text=True, timeout=60
        )
        if status.returncode != 0 or status.stdout.splitlines() != [INSTALLED] * len(packages):
            return False
    try:
        done = subprocess.run(
            [str(path), "--version"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
