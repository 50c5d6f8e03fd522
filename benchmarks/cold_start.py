"""Cold start of ``streamshell serve``: launch to the first ``initialize`` answered over stdio.

A client such as current Codex sends its first model request ~250 ms after it starts the
server, so every millisecond before the server can answer is a turn without its tools. The
floor is ``python -c "import mcp"`` (the SDK the server is built on) timed the same way: from
launch to the first byte it writes (the server's first byte is its answer), never to the
process's exit, whose teardown the server's answer does not wait for. The two alternate
A B A B; both run from compiled bytecode (a warm-up run of each writes it first).

The second row shows where the import time goes (``python -X importtime``, one serving run
that answers ``initialize``): what ``import mcp`` alone loads is the floor's; of the rest,
a module is streamshell's when streamshell's code imported it (its own modules, and the
third-party and standard modules only they pull in), the SDK's when the SDK's code did.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
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
FLOOR = [sys.executable, "-c", "import mcp, sys; sys.stdout.write('ready\\n'); sys.stdout.flush()"]
SDK_PACKAGES = ("mcp", "mcp_types")
"""The SDK's top-level packages (``mcp_types`` ships with it)."""
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


def first_line(argv: list[str], stdin: str = "") -> tuple[float, bytes]:
    """Seconds from launching ``argv`` (and writing ``stdin`` to it at once) to reading its first
    line, and the line; the process is then let go (stdin closed) and reaped, untimed."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(stdin.encode())
    process.stdin.flush()
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.stdin.close()
    process.wait(timeout=60)
    return elapsed, line


def _serve_once() -> float:
    elapsed, line = first_line(SERVE, INITIALIZE)
    if b'"serverInfo"' not in line:
        raise RuntimeError(f"unexpected answer to initialize: {line[:300]!r}")
    return elapsed


def _floor_once() -> float:
    elapsed, line = first_line(FLOOR)
    if line != b"ready\n":
        raise RuntimeError(f"the floor printed {line[:300]!r}")
    return elapsed


@dataclass(frozen=True)
class Imported:
    """One module in ``-X importtime``'s output: its own seconds, and the module whose import
    imported it (None at the top: the interpreter's start, or an import made while running)."""

    name: str
    own: float
    parent: str | None


def import_tree(argv: list[str], stdin: str = "") -> dict[str, Imported]:
    """``-X importtime``'s modules for running ``argv``: each with its own time and its importer.

    The output lists a module after the ones its import pulled in, one level deeper each; so,
    read backwards, a module's importer is the nearest line before it (in reading order, the
    nearest after it) one level up.
    """
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], input=stdin, capture_output=True, text=True, check=False
    )
    lines = []
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)$", line)
        if found:
            lines.append((found.group(3), int(found.group(1)) / 1e6, len(found.group(2)) // 2))
    modules: dict[str, Imported] = {}
    stack: list[tuple[int, str]] = []
    for name, own, depth in reversed(lines):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        modules[name] = Imported(name, own, stack[-1][1] if stack else None)
        stack.append((depth, name))
    return modules


def _package(name: str) -> str:
    return name.split(".", 1)[0]


def whose(module: Imported, modules: dict[str, Imported]) -> str:
    """``"streamshell"``, ``"sdk"`` or ``"other"``: whose code imported ``module`` (the nearest of
    itself and its importers that is streamshell's or the SDK's)."""
    current: Imported | None = module
    while current is not None:
        if _package(current.name) == "streamshell":
            return "streamshell"
        if _package(current.name) in SDK_PACKAGES:
            return "sdk"
        current = modules.get(current.parent) if current.parent is not None else None
    return "other"


@dataclass(frozen=True)
class Shares:
    """Seconds of import time in one serving run, by whose code caused them."""

    total: float
    floor: float
    """What ``import mcp`` alone imports (the interpreter's start included)."""
    streamshell: float
    sdk: float
    other: float
    client: float
    """The SDK's client side, which ``import mcp`` loads and a server never uses."""


def shares(served: dict[str, Imported], floor: dict[str, Imported]) -> Shares:
    parts = {"streamshell": 0.0, "sdk": 0.0, "other": 0.0}
    for module in served.values():
        if module.name not in floor:
            parts[whose(module, served)] += module.own
    client = sum(m.own for m in served.values() if m.name.startswith(("mcp.client", "mcp.shared.session")))
    return Shares(
        total=sum(m.own for m in served.values()),
        floor=sum(m.own for m in served.values() if m.name in floor),
        client=client,
        **parts,
    )


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
    got = shares(import_tree(["-m", "streamshell", "serve"], INITIALIZE), import_tree(FLOOR[1:]))
    ms = {name: f"{value * 1000:.0f} ms" for name, value in vars(got).items()}
    return [
        Row(
            metric=METRIC,
            floor=f'{spread(f, digits=0)}: `python -c "import mcp"` launched to its first byte written',
            streamshell=spread(s, digits=0),
            ratio=f"{extra * 1000:+.0f} ms",
            target=TARGET,
            verdict=verdict(extra <= MAX_EXTRA),
        ),
        Row(
            metric="cold start: import time on the way to the first answer (`python -X importtime`, one run)",
            floor=f"`import mcp` alone: {ms['floor']}",
            streamshell=(
                f"{ms['total']} in all; beyond `import mcp`: streamshell's {ms['streamshell']} (its modules "
                f"and what only they import), the SDK's server side {ms['sdk']}, other {ms['other']}"
            ),
            ratio=f"SDK {(got.total - got.streamshell) / got.total:.0%}" if got.total else "-",
            target="the SDK's share, shown",
            verdict=NOT_MEASURED,
            notes=(
                f"cold start: `import mcp` also imports the SDK's client side ({ms['client']} of the serving "
                "run's import time here, `mcp.client.*` and the client session): a package `__init__` that "
                "imported it lazily would take that off every server's start.",
            ),
        ),
    ]
