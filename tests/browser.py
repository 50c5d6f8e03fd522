"""A real headless Chromium (Debian's) driven by Playwright (``playwright-core`` from npm), for the
page's tests.

Playwright runs in a Node process (``browser_driver.js``) that carries out one step per request;
the test decides the steps and checks the answers. Chromium and Playwright are installed when
missing (:mod:`system_packages`, :mod:`npm_cache`); when they cannot be, the error says what to
install. Every wait has a generous deadline: the machine is shared and loaded.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from helpers import MARK
from npm_cache import PLAYWRIGHT, CacheError, installed
from system_packages import debian_package

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_PACKAGES = ("chromium", "fonts-dejavu-core")
"""Chromium and a monospace font for the terminals (the screenshot shows them)."""

CHROMIUM_FLAGS = (
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine's closed network refuses its connections
    "--disable-component-update",
    "--disable-sync",
)
"""What Chromium needs here (/work/.library/env/machines/python.md, "Known to work")."""

STEP_TIMEOUT = 90.0
"""Seconds one step may take on a loaded machine."""

DRIVER = Path(__file__).with_name("browser_driver.js")


class BrowserError(AssertionError):
    """A step failed in the browser; ``str()`` has Playwright's message."""


class Browser:
    """One Chromium, one page at a time (:meth:`new_page`); close it with :meth:`close`."""

    def __init__(self) -> None:
        chromium = debian_package(CHROMIUM, CHROMIUM_PACKAGES)
        playwright = installed(PLAYWRIGHT)
        node = shutil.which("node")
        if node is None:
            raise CacheError("node is not installed: install Node.js (e.g. apt-get install nodejs)")
        env = {k: v for k, v in os.environ.items() if k != MARK}  # it outlives the test that starts it
        env["NODE_PATH"] = str(playwright / "node_modules")
        self._process = subprocess.Popen(
            [node, str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._buffer = b""
        self._next = 0
        self.version = self.call("launch", executable=str(chromium), args=list(CHROMIUM_FLAGS))

    def call(self, op: str, *, timeout: float = STEP_TIMEOUT, **args: Any) -> Any:
        """Carry out one step; its value, or :class:`BrowserError` with Playwright's message."""
        self._next += 1
        request = {"id": self._next, "op": op, **args}
        if "timeout" in args or op in ("waitFor", "waitForText"):
            request["timeout"] = int(timeout * 1000)
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request).encode() + b"\n")
        self._process.stdin.flush()
        answer = self._answer(timeout + 30)
        assert answer["id"] == self._next, answer
        if "error" in answer:
            raise BrowserError(f"{op} {args}: {answer['error']}")
        return answer.get("value")

    def _answer(self, timeout: float) -> dict[str, Any]:
        assert self._process.stdout is not None
        fd = self._process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"the browser did not answer within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise BrowserError(f"the browser driver exited ({self._process.wait()})")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def new_page(self, width: int = 1400, height: int = 820) -> None:
        self.call("newPage", viewport={"width": width, "height": height})

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                self.call("close", timeout=30)
            finally:
                assert self._process.stdin is not None
                self._process.stdin.close()
                try:
                    self._process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
