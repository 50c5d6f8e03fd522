"""Real clients from the npm registry, installed once into a cache that concurrent test runs share.

Every entry (``Package``) is a directory under :data:`CACHE` that appears only whole: it is built
in a temporary directory beside it, verified there (its probe command must run and print what it
should), and renamed into place under an exclusive file lock. Readers need no lock: they see the
entry complete or not at all. An entry that fails its probe later (files deleted, a partial copy
from an older layout) is rebuilt under the lock and swapped in the same way, so a broken cache
repairs itself, and two runs at once install once and never see each other's half-made files.

Nothing here skips a test: a missing ``npm`` or a failed install is an error that says what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(
    os.environ.get("STREAMSHELL_TEST_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "streamshell-tests"
)
"""Where installed clients live between runs (``STREAMSHELL_TEST_CACHE`` overrides it)."""

LOCK_TIMEOUT = 1200.0
"""Seconds to wait for another run's install of the same entry (large binaries, a loaded machine)."""

INSTALL_TIMEOUT = 900.0
MARKER = ".streamshell-cache.json"


class CacheError(Exception):
    """A client could not be installed or does not work; ``str()`` says what to do."""


@dataclass(frozen=True)
class Package:
    """One cache entry: npm package specs installed together, and how to check them.

    ``probe`` is a command (relative paths are taken inside the entry) that must exit 0 with
    ``expect`` in its output. ``pack`` unpacks the tarballs (``npm pack``) instead of installing
    them: for a package whose one binary is all that is needed (Codex 0.29.0 ships every
    platform's; ``keep`` names the files to keep under ``package/``).
    """

    name: str
    specs: tuple[str, ...]
    probe: tuple[str, ...]
    expect: str
    pack: bool = False
    keep: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for the probe (e.g. a newer node first on PATH)."""
    requires: tuple[Package, ...] = ()
    """Entries installed first (what ``env`` points at)."""

    @property
    def path(self) -> Path:
        return CACHE / self.name

    def bin(self, name: str) -> Path:
        """An installed command: ``node_modules/.bin/NAME`` (or a path inside the entry)."""
        inside = self.path / name
        return inside if "/" in name else self.path / "node_modules" / ".bin" / name


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise CacheError("npm is not installed: install Node.js and npm (e.g. apt-get install npm)")
    return npm


def _run_probe(package: Package, root: Path) -> str | None:
    """None when the entry at ``root`` works, else why not."""
    marker = root / MARKER
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return f"{marker} is missing or unreadable"
    if recorded.get("specs") != list(package.specs):
        return f"{root} holds {recorded.get('specs')}, not {list(package.specs)}"
    argv = [str(root / a) if a.startswith(("node_modules/", "package/")) else a for a in package.probe]
    env = {**os.environ, **{k: v.replace("{root}", str(root)) for k, v in package.env.items()}}
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=env, cwd=root
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{' '.join(argv)} failed: {e}"
    output = done.stdout + done.stderr
    if done.returncode != 0 or package.expect not in output:
        return f"{' '.join(argv)} exited {done.returncode} without {package.expect!r}: {output[-500:]}"
    return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (waiting up to :data:`LOCK_TIMEOUT` for another run)."""
    with open(path, "a+") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CacheError(f"another run has held {path} for {LOCK_TIMEOUT:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _npm_run(args: Sequence[str], cwd: Path) -> None:
    done = subprocess.run(
        [_npm(), *args, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=INSTALL_TIMEOUT,
    )
    if done.returncode != 0:
        raise CacheError(f"npm {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")


def _build(package: Package, into: Path) -> None:
    """Install or unpack ``package`` into the empty directory ``into``."""
    if not package.pack:
        _npm_run(["install", "--prefix", str(into), *package.specs], into)
        return
    for spec in package.specs:
        before = set(into.iterdir())
        _npm_run(["pack", spec], into)
        [tarball] = [p for p in set(into.iterdir()) - before if p.suffix == ".tgz"]
        with tarfile.open(tarball) as tar:
            tar.extractall(into, filter="data")
        tarball.unlink()
    if package.keep:
        for path in sorted((into / "package").rglob("*"), reverse=True):
            relative = str(path.relative_to(into / "package"))
            needed = any(relative == k or k.startswith(relative + "/") for k in package.keep)
            if path.is_file() and not needed:
                path.unlink()


def installed(package: Package) -> Path:
    """The entry's directory, installed and verified (installing or repairing it first if needed)."""
    for required in package.requires:
        installed(required)
    if _run_probe(package, package.path) is None:
        return package.path
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / f"{package.name}.lock"):
        if _run_probe(package, package.path) is None:  # another run installed it meanwhile
            return package.path
        staging = Path(tempfile.mkdtemp(prefix=f".{package.name}.", dir=CACHE))
        started = time.monotonic()
        try:
            _build(package, staging)
            seconds = round(time.monotonic() - started, 1)  # how long CI spends on it (README, report)
            (staging / MARKER).write_text(
                json.dumps({"specs": list(package.specs), "install_seconds": seconds})
            )
            problem = _run_probe(package, staging)
            if problem:
                raise CacheError(f"{package.name} installed but does not work: {problem}")
            _swap_in(staging, package.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return package.path


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` (absent, or broken) with ``staging`` by renames: never half of either."""
    if final.exists() or final.is_symlink():
        broken = Path(tempfile.mkdtemp(prefix=f".{final.name}.broken.", dir=final.parent))
        os.rename(final, broken / "old")
        os.rename(staging, final)
        shutil.rmtree(broken, ignore_errors=True)
    else:
        os.rename(staging, final)


# ----- the clients the tests use (versions pinned: test data was recorded from them) ------------

NODE22 = Package(
    "node-22.23.3",
    ("node@22.23.3",),
    ("node_modules/.bin/node", "--version"),
    "v22.23.3",
)
"""Node 22 from the npm registry: the Inspector 2.x needs Node >= 22.19; the machine has Node 20."""

INSPECTOR_STDIO = Package(
    "inspector-0.15.0",
    ("@modelcontextprotocol/inspector@0.15.0",),
    ("node_modules/.bin/mcp-inspector", "--help"),
    "Usage",
)
"""The Inspector 0.15.0: the newest that runs on Node 20; stdio only (it cannot send a bearer token)."""

INSPECTOR_HTTP = Package(
    "inspector-2.12.0",
    ("@modelcontextprotocol/inspector@2.12.0",),
    ("node_modules/.bin/mcp-inspector", "--version"),
    "2.12.0",
    env={"PATH": f"{NODE22.path}/node_modules/.bin:{os.environ.get('PATH', '')}"},
    requires=(NODE22,),
)
"""The Inspector 2.12.0 (run with :data:`NODE22` first on PATH): has ``--header`` for HTTP."""

CODEX_REFERENCE = Package(
    "codex-0.29.0",
    ("@openai/codex@0.29.0",),
    ("package/bin/codex-x86_64-unknown-linux-musl", "--version"),
    "codex-cli 0.29.0",
    pack=True,
    keep=("bin/codex-x86_64-unknown-linux-musl", "package.json"),
)
"""Codex 0.29.0, the reference (what shared/reference/codex-harness/install-reference.sh does:
the tarball unpacked, only the Linux x86_64 binary kept)."""

CODEX_LATEST = Package(
    "codex-0.171.0",
    ("@openai/codex@0.171.0",),
    ("node_modules/.bin/codex", "--version"),
    "codex-cli 0.171.0",
)
"""The Codex release tests/data/codex-0.171.0-*.json was recorded from."""

CLAUDE_CODE = Package(
    "claude-code-2.1.197",
    ("@anthropic-ai/claude-code@2.1.197",),
    ("node_modules/.bin/claude", "--version"),
    "2.1.197",
)
"""Claude Code (a native binary; runs on Node 20's machine)."""

PLAYWRIGHT = Package(
    "playwright-core-1.65.1",
    ("playwright-core@1.65.1",),
    ("node", "-e", "console.log(require('playwright-core/package.json').version)"),
    "1.65.1",
)
"""Playwright's library without its browser download (which this machine cannot reach): it drives
Debian's Chromium (``/usr/bin/chromium``) for the page's browser test."""
