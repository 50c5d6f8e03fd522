"""Fixtures shared by every test: a manager, a check that no process outlives its test, and a real
multi-node Ray cluster for the cluster tests."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import MARK, marked_processes
from isolated_home import isolate_home
from ray_cluster import LocalCluster, start_test_cluster
from streamshell import SessionManager
from streamshell._engine import manager as manager_module
from streamshell._engine import spawn
from streamshell._engine.options import ManagerOptions

SPAWN_PATHS = ("posix_spawn", "popen")
"""How sessions can be started: libc's posix_spawn (Linux), or subprocess (macOS's only path)."""

SANDBOXES = ("danger-full-access", "workspace-write")
"""The sandboxes the core suite runs under: the library's default, and the commands' default."""


def pytest_configure(config: pytest.Config) -> None:
    isolate_home()  # in xdist's controller before it starts the workers, which inherit it
    config.addinivalue_line(
        "markers",
        "spawn_paths(*paths): run the test once per spawn path (default: every one of SPAWN_PATHS)",
    )
    config.addinivalue_line(
        "markers",
        "sandboxes(*modes): run the test once per sandbox mode of its managers (default: SANDBOXES)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``spawn_paths`` run through each spawn path, so the subprocess path (the only
    one on macOS) is exercised on Linux too."""
    marker = metafunc.definition.get_closest_marker("spawn_paths")
    sandboxes = metafunc.definition.get_closest_marker("sandboxes")
    paths = (marker.args or SPAWN_PATHS) if marker is not None else None
    if sandboxes is None:
        if paths is not None:
            metafunc.parametrize("spawn_path", paths, indirect=True)
        return
    # Each spawn path unsandboxed, and the sandboxed runs on the first one (the sandbox does not
    # depend on how bwrap itself is started).
    modes = sandboxes.args or SANDBOXES
    pairs = [(path, modes[0]) for path in paths or SPAWN_PATHS[:1]]
    pairs += [((paths or SPAWN_PATHS)[0], mode) for mode in modes[1:]]
    metafunc.parametrize(("spawn_path", "sandbox"), pairs, indirect=True)


@pytest.fixture(autouse=True)
def spawn_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The spawn path the test runs on; ``popen`` hides libc's posix_spawn from the engine."""
    path: str = getattr(request, "param", SPAWN_PATHS[0])
    if path == "popen":
        monkeypatch.setattr(spawn, "libc_spawner", lambda: None)
    return path


@pytest.fixture(autouse=True)
def sandbox(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The sandbox the test's managers run in: under a sandbox, a manager made with keyword
    arguments gets that mode (unless it names one), with the network on and the tests'
    temporary directories writable."""
    mode: str = getattr(request, "param", SANDBOXES[0])
    if mode != SANDBOXES[0]:
        roots = (str(tmp_path_factory.getbasetemp()), os.environ["HOME"])  # (isolate_home: in /tmp)

        def sandboxed(**kwargs: object) -> ManagerOptions:
            defaults: dict[str, object] = {"sandbox": mode, "network_access": True, "writable_roots": roots}
            return ManagerOptions(**{**defaults, **kwargs})

        monkeypatch.setattr(manager_module, "ManagerOptions", sandboxed)
    return mode


LEFTOVER_GRACE = 5.0
"""Seconds a test's processes get to finish dying (SIGKILLed ones still need reaping)."""


@pytest.fixture(autouse=True)
def no_processes_left_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test must leave no process behind: children inherit a unique marker variable,
    and after the test no live process may carry it."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARK, value)
    yield
    deadline = time.monotonic() + LEFTOVER_GRACE
    left = marked_processes(value)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = marked_processes(value)
    for pid, _ in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


@pytest.fixture
async def manager() -> AsyncIterator[SessionManager]:
    async with SessionManager() as m:
        yield m


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    """A head and two worker nodes, each with its own raylet, on this machine; this process is
    connected to it as a driver. One per test process: the cluster tests share the xdist group
    ``ray``, so they all run in one process, on one cluster. Started before any test's marker
    is set, so none of Ray's own processes counts as a test's leftover."""
    with start_test_cluster() as cluster:
        yield cluster
