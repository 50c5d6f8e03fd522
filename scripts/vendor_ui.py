"""Vendor the page's JavaScript and CSS from npm into the package: ``python scripts/vendor_ui.py``.

The page at ``/ui`` loads nothing from elsewhere at run time: the built files of xterm.js and
asciinema-player ship in ``src/streamshell/ui/vendor/`` (package data), each beside its licence,
and ``VENDORED.json`` says what they are (package, version, licence, the npm tarball's
integrity, each file's SHA-256). To move to another release, change :data:`PACKAGES` and run
this; ``--check`` packs the pinned releases again into a temporary directory and fails unless
the vendored files are exactly theirs (the tests run it).

Needs ``npm`` (``npm pack`` fetches and verifies the tarballs against the registry's integrity).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "src" / "streamshell" / "ui" / "vendor"
MANIFEST = "VENDORED.json"


@dataclass(frozen=True)
class Vendored:
    """An npm package's files to ship: ``files`` maps a path in its tarball to a name in ``directory``."""

    name: str
    version: str
    directory: str
    files: dict[str, str]


PACKAGES = (
    Vendored(
        "@xterm/xterm",
        "6.0.0",
        "xterm",
        {"lib/xterm.js": "xterm.js", "css/xterm.css": "xterm.css", "LICENSE": "LICENSE"},
    ),
    Vendored(
        "asciinema-player",
        "3.18.0",
        "asciinema-player",
        {
            "dist/bundle/asciinema-player.min.js": "asciinema-player.min.js",
            "dist/bundle/asciinema-player.css": "asciinema-player.css",
            "LICENSE": "LICENSE",
        },
    ),
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pack(package: Vendored, work: Path) -> tuple[Path, dict[str, str]]:
    """The package's unpacked tarball and what npm says of it (integrity, licence)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("vendor_ui: npm is needed (install Node.js and npm)")
    done = subprocess.run(
        [npm, "pack", f"{package.name}@{package.version}", "--json", "--silent"],
        cwd=work,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"vendor_ui: npm pack {package.name}@{package.version} failed: {done.stderr[-1000:]}"
        )
    [packed] = json.loads(done.stdout)
    unpacked = work / package.directory
    unpacked.mkdir()
    with tarfile.open(work / packed["filename"]) as tar:
        tar.extractall(unpacked, filter="data")
    meta = json.loads((unpacked / "package" / "package.json").read_text())
    return unpacked / "package", {"integrity": packed["integrity"], "license": meta.get("license", "")}


def vendor(into: Path) -> None:
    """Write every package's files into ``into`` (replacing what was there) and the manifest."""
    manifest = {}
    with tempfile.TemporaryDirectory(prefix="streamshell-vendor-") as tmp:
        for package in PACKAGES:
            unpacked, facts = _pack(package, Path(tmp))
            target = into / package.directory
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            files = {}
            for source, name in package.files.items():
                shutil.copyfile(unpacked / source, target / name)
                files[f"{package.directory}/{name}"] = _sha256(target / name)
            manifest[package.name] = {"version": package.version, **facts, "files": files}
    (into / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def check(vendored: Path) -> list[str]:
    """What differs between ``vendored`` and the pinned releases packed afresh (empty: nothing)."""
    with tempfile.TemporaryDirectory(prefix="streamshell-vendor-check-") as tmp:
        fresh = Path(tmp) / "vendor"
        fresh.mkdir()
        vendor(fresh)
        problems = []
        expected = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        present = {p.relative_to(vendored) for p in vendored.rglob("*") if p.is_file()}
        problems += [f"missing: {p}" for p in sorted(expected - present)]
        problems += [f"not from npm: {p}" for p in sorted(present - expected)]
        for path in sorted(expected & present):
            if (fresh / path).read_bytes() != (vendored / path).read_bytes():
                problems.append(f"differs from the release: {path}")
        return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare the vendored files with npm's")
    parser.add_argument("--into", type=Path, default=VENDOR, help=f"where (default {VENDOR})")
    args = parser.parse_args()
    if args.check:
        problems = check(args.into)
        for problem in problems:
            print(f"vendor_ui: {problem}", file=sys.stderr)
        return 1 if problems else 0
    vendor(args.into)
    print(f"vendor_ui: wrote {args.into}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
