"""Cold start of ``streamshell serve``: launch to the first ``initialize`` answered over stdio.

A client such as current Codex sends its first model request ~250 ms after it starts the
server, so every millisecond before the server can answer is a turn without its tools. The
floor is ``python -c "import mcp"`` (the SDK the server is built on), launched and timed to its
exit the same way, the two alternated A B A B; both run from compiled bytecode (a warm-up run of
each writes it first). The second row shows where the time goes: ``python -X importtime``'s
cumulative figures for the ``mcp`` package and for streamshell's own modules on the way to
serving.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .report import NOT_MEASURED, Row, spread, verdict
from .sizes import Sizes
from .stats import summarize

MAX_EXTRA = 0.100
COLD_STARTS = 20
"""Launches of each (the median is reported), whatever the run's size: each takes about a second."""
METRIC = "cold start: `streamshell serve` launched to its first `initialize` answered (stdio)"
TARGET = f"≤ +{MAX_EXTRA * 1000:g} ms over the floor (median)"
SERVE = [str(Path(sys.executable).parent / "streamshell"), "serve"]
FLOOR = [sys.executable, "-c", "import mcp"]
INITIALIZE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        }
    )
    + "\n"
)


def _serve_once() -> float:
    """Seconds from launching the server to reading its answer to ``initialize`` (sent at once)."""
    started = time.perf_counter()
    server = subprocess.Popen(
        SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
    assert server.stdin is not None and server.stdout is not None
    server.stdin.write(INITIALIZE.encode())
    server.stdin.flush()
    line = server.stdout.readline()
    elapsed = time.perf_counter() - started
    server.stdin.close()
    server.wait(timeout=60)
    if b'"serverInfo"' not in line:
        raise RuntimeError(f"unexpected answer to initialize: {line[:300]!r}")
    return elapsed


def _floor_once() -> float:
    started = time.perf_counter()
    subprocess.run(FLOOR, check=True)
    return time.perf_counter() - started


def import_times(argv: list[str], stdin: str = "") -> dict[str, tuple[float, float]]:
    """``-X importtime``'s (self, cumulative) seconds for every module ``argv`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], input=stdin, capture_output=True, text=True, check=False
    )
    times: dict[str, tuple[float, float]] = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (.*)$", line)
        if found:
            times[found.group(3).strip()] = (int(found.group(1)) / 1e6, int(found.group(2)) / 1e6)
    return times


def _own(times: dict[str, tuple[float, float]], prefix: str) -> float:
    """Seconds spent in the modules under ``prefix`` themselves."""
    return sum(own for name, (own, _) in times.items() if name == prefix or name.startswith(prefix + "."))


async def rows(sizes: Sizes) -> list[Row]:
    if not Path(SERVE[0]).exists():
        return [Row(METRIC, "-", "n/a (no streamshell command)", "-", TARGET, NOT_MEASURED)]
    _floor_once(), _serve_once()  # write the bytecode of both
    floor, serve = [], []
    for _ in range(COLD_STARTS if sizes.name != "toy" else 2):
        floor.append(_floor_once())
        serve.append(_serve_once())
    f, s = summarize(floor), summarize(serve)
    extra = s.median - f.median
    served = import_times(["-m", "streamshell", "serve"], INITIALIZE)
    sdk = import_times(["-c", "import mcp"]).get("mcp", (0.0, 0.0))[1]
    ours = _own(served, "streamshell")
    client = _own(served, "mcp.client") + _own(served, "mcp.shared.session")
    total = sum(own for own, _ in served.values())
    return [
        Row(
            metric=METRIC,
            floor=f'{spread(f, digits=0)}: `python -c "import mcp"` launched to exit',
            streamshell=spread(s, digits=0),
            ratio=f"{extra * 1000:+.0f} ms",
            target=TARGET,
            verdict=verdict(extra <= MAX_EXTRA),
        ),
        Row(
            metric="cold start: import time on the way to serving (`python -X importtime`, one run)",
            floor=f"`import mcp` alone: {sdk * 1000:.0f} ms",
            streamshell=f"{total * 1000:.0f} ms in all; streamshell's own modules {ours * 1000:.0f} ms",
            ratio=f"SDK {sdk / total:.0%}" if total else "-",
            target="the SDK's share, shown",
            verdict=NOT_MEASURED,
            notes=(
                f"cold start: `import mcp` also imports the SDK's client side ({client * 1000:.0f} ms of the "
                "serving run's import time here, `mcp.client.*` and the client session): a package "
                "`__init__` that imported it lazily would take that off every server's start.",
            ),
        ),
    ]
