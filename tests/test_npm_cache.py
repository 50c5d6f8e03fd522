"""The shared npm cache: two runs at once install once and both get a working entry; a broken entry
is rebuilt; a bad package is an error that says so. Uses a tiny real package from the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import npm_cache

TINY = npm_cache.Package(
    "is-number-7.0.0",
    ("is-number@7.0.0",),
    ("node", "-e", "console.log(require('./node_modules/is-number')(5))"),
    "true",
)

INSTALL = """
import sys
sys.path.insert(0, {tests!r})
import npm_cache
npm_cache.CACHE = npm_cache.Path({cache!r})
package = npm_cache.Package(*{fields!r})
print(npm_cache.installed(package))
"""


def _install_in_subprocess(cache: Path) -> subprocess.Popen[str]:
    code = INSTALL.format(
        tests=str(Path(__file__).parent),
        cache=str(cache),
        fields=(TINY.name, TINY.specs, TINY.probe, TINY.expect),
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_two_runs_at_once_share_one_install(tmp_path: Path) -> None:
    runs = [_install_in_subprocess(tmp_path) for _ in range(2)]
    results = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err
        assert out.strip() == str(tmp_path / TINY.name)
    entries = sorted(p.name for p in tmp_path.iterdir())
    assert entries == [TINY.name, f"{TINY.name}.lock"]  # no staging directory left behind
    assert json.loads((tmp_path / TINY.name / npm_cache.MARKER).read_text())["specs"] == list(TINY.specs)


def test_a_broken_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npm_cache, "CACHE", tmp_path)
    path = npm_cache.installed(TINY)
    index = path / "node_modules" / "is-number" / "index.js"
    index.write_text("this is not javascript")
    assert npm_cache.installed(TINY) == path
    assert "module.exports" in index.read_text()


def test_a_package_that_does_not_work_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(npm_cache, "CACHE", tmp_path)
    wrong = npm_cache.Package(TINY.name, TINY.specs, TINY.probe, "a text it never prints")
    with pytest.raises(npm_cache.CacheError, match="installed but does not work"):
        npm_cache.installed(wrong)
    assert not (tmp_path / TINY.name).exists()
