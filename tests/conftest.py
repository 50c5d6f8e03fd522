"""Fixtures shared by every test: a manager, and a check that no process outlives its test."""

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
from streamshell import SessionManager

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
