"""The package as users get it: sdist and wheel built with `python -m build`, the wheel installed into a
fresh virtual environment, and `streamshell serve` from it answering a stdio tool call; the same wheel
run by `uvx` and by `pipx run` with no extra syntax.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from helpers import call_tool

ROOT = Path(__file__).resolve().parent.parent
# One worker runs the clients and the packaging test one after another: a client's server must start
# within the client's timeout (Codex 0.29: 10 s), which the packaging test's pip installs can starve.
pytestmark = pytest.mark.xdist_group("clients")


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the tree: setuptools writes build/ and *.egg-info beside the sources."""
    source = tmp_path_factory.mktemp("source") / "streamshell"
    junk = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*junk))
    out = tmp_path_factory.mktemp("dist")
    log = _run(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, source, cwd=source)
    assert "SetuptoolsDeprecationWarning" not in log  # e.g. a license given as a table
    return out


def _wheel(dist: Path) -> Path:
    [wheel] = dist.glob("streamshell-*.whl")
    return wheel


def test_the_sdist_and_wheel_carry_the_package_and_its_metadata(dist: Path) -> None:
    [sdist] = dist.glob("streamshell-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert any(n.endswith("/src/streamshell/mcp/server.py") for n in names)
    with zipfile.ZipFile(_wheel(dist)) as wheel:
        wheel_names = wheel.namelist()
        [metadata] = [n for n in wheel_names if n.endswith(".dist-info/METADATA")]
        text = wheel.read(metadata).decode()
        entry_points = wheel.read(metadata.replace("METADATA", "entry_points.txt")).decode()
    assert "License-Expression: MIT" in text
    assert "Requires-Dist: mcp<3,>=2.3\n" in text
    assert "streamshell = streamshell.cli:main" in entry_points
    for name in _page_files():  # the page at /ui and what it runs, with the licences
        assert f"streamshell/ui/{name}" in wheel_names, name
        assert any(n.endswith(f"/src/streamshell/ui/{name}") for n in names), name


def _page_files() -> list[str]:
    ui = ROOT / "src" / "streamshell" / "ui"
    vendored = json.loads((ui / "vendor" / "VENDORED.json").read_text())
    files = [f"vendor/{name}" for package in vendored.values() for name in package["files"]]
    assert any(name.endswith("/LICENSE") for name in files)
    return [*(f"static/{p.name}" for p in (ui / "static").iterdir()), "vendor/VENDORED.json", *files]


async def _stdio_smoke(command: str, args: list[str], env: dict[str, str] | None = None) -> None:
    """Start the server as a client would and make one call through it."""
    params = StdioServerParameters(command=command, args=args, env=env or dict(os.environ))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        text, error = await call_tool(session, "exec_command", {"cmd": "echo from-the-wheel", "login": False})
    assert not error and text.endswith("Process exited with code 0\nOutput:\nfrom-the-wheel\r\n"), text


async def test_the_wheel_in_a_fresh_venv_serves_over_stdio(dist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", _wheel(dist))
    # Library use does not load the SDK, though it is installed.
    probe = (
        "import sys, streamshell; streamshell.SessionManager; assert 'mcp' not in sys.modules, sys.modules"
    )
    _run(venv / "bin" / "python", "-c", probe)
    await _stdio_smoke(str(venv / "bin" / "streamshell"), ["serve"])


async def test_uvx_runs_the_wheel(dist: Path, tmp_path: Path) -> None:
    uvx = Path(sys.executable).parent / "uvx"
    await _stdio_smoke(str(uvx), ["--from", str(_wheel(dist)), "streamshell", "serve"])


async def test_pipx_runs_the_wheel(dist: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    pipx = Path(sys.executable).parent / "pipx"
    await _stdio_smoke(str(pipx), ["run", "--spec", str(_wheel(dist)), "streamshell", "serve"], env)
