"""What 0.2 moved still imports under its 0.1 name for one release, with a warning saying where it went."""

from __future__ import annotations

import importlib
import sys

import pytest

import streamshell
from streamshell._moved import MOVED_MODULES, MOVED_NAMES


@pytest.mark.parametrize(("old", "new"), sorted(MOVED_MODULES.items()))
def test_old_module_paths_import_the_new_modules(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"^{old} moved to {new};"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


@pytest.mark.parametrize(
    ("package", "name", "home"),
    [(package, name, home) for package, names in MOVED_NAMES.items() for name, home in names.items()],
)
def test_old_names_still_resolve(package: str, name: str, home: str) -> None:
    module = importlib.import_module(package)
    vars(module).pop(name, None)  # an earlier test may have resolved it already
    with pytest.warns(DeprecationWarning, match=f"^{package}.{name} moved to {home}.{name};"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(home), name)


def test_the_public_names_are_importable_without_warnings() -> None:
    for name in streamshell.__all__:
        assert getattr(streamshell, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        streamshell.no_such_name  # noqa: B018
