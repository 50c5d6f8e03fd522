"""Debian packages for the tests: one counts as there only when dpkg has it whole and its program runs;
what is there is used as it is, without apt or its lock."""

from __future__ import annotations

from pathlib import Path

import pytest

import system_packages


def test_a_package_counts_only_when_dpkg_has_all_of_it_and_the_program_runs() -> None:
    assert system_packages._ready(Path("/bin/bash"), ("bash",))
    assert not system_packages._ready(Path("/bin/bash"), ("bash", "streamshell-no-such-package"))
    assert not system_packages._ready(Path("/bin/streamshell-no-such-program"), ("bash",))
    assert not system_packages._ready(Path("/bin/false"), ("coreutils",))  # it does not run


def test_what_is_there_is_used_without_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_packages, "CACHE", tmp_path)
    assert system_packages.debian_package("/bin/bash", ("bash",)) == Path("/bin/bash")
    assert not (tmp_path / "apt.lock").exists()  # no lock taken, nothing installed
