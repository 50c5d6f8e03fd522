"""A home of the test run's own, so that login shells do not read the developer's dotfiles."""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import tempfile
from pathlib import Path

HOME_ENV = "STREAMSHELL_TEST_HOME"


def isolate_home() -> None:
    """Give the run a home of its own, so login shells (``bash -lc``, the reference's default) do not
    read this machine's dotfiles: their output and timing must not depend on the developer's
    ``~/.profile``. (Here ``~/.bashrc`` runs ``pyenv init``, whose rehash lock a killed shell leaves
    behind: every later login shell then waits 60 s and prints an error into its output.) The
    home's ``.profile`` keeps PATH as the run has it; the configs and caches tools read from the
    real home (pip's, npm's, the test caches) are pointed at explicitly. xdist workers inherit it.
    """
    if os.environ.get(HOME_ENV):
        return
    real = Path.home()
    pointers = {
        "XDG_CACHE_HOME": real / ".cache",
        "npm_config_cache": real / ".npm",
        "NPM_CONFIG_USERCONFIG": real / ".npmrc",
        "PIP_CONFIG_FILE": real / ".config" / "pip" / "pip.conf",
        "GIT_CONFIG_GLOBAL": real / ".gitconfig",
    }
    for name, path in pointers.items():
        if name not in os.environ and (path.exists() or name in ("XDG_CACHE_HOME", "npm_config_cache")):
            os.environ[name] = str(path)
    home = Path(tempfile.mkdtemp(prefix="streamshell-test-home-"))
    (home / ".profile").write_text(f"export PATH={shlex.quote(os.environ.get('PATH', os.defpath))}\n")
    atexit.register(shutil.rmtree, home, True)
    os.environ["HOME"] = os.environ[HOME_ENV] = str(home)
