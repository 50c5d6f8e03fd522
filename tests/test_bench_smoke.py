"""The benchmarks cannot rot: ``python -m benchmarks --toy`` runs every metric's code path at a
toy size and writes the table. Nothing here looks at a time: benchmarks are not tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METRICS = (
    "spawn:",
    "throughput:",
    "memory:",
    "concurrency:",
    "write_stdin:",
    "MCP over stdio:",
    "cold start:",
    "cluster:",
    "recording:",
)


def test_every_metric_runs_at_a_toy_size_and_lands_in_the_table(tmp_path: Path) -> None:
    page = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--toy", "--output", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "| metric | floor | streamshell | ratio | target | verdict |" in text
    for field in ("- Machine:", "- Python:", "- Date:"):
        assert field in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| metric")]
    for metric in METRICS:
        assert any(row.startswith(f"| {metric}") for row in rows), f"no {metric} row in:\n{text}"
    for row in rows:
        cells = [c.strip() for c in row.strip("|").replace("\\|", "/").split(" | ")]
        assert len(cells) == 6, row
        assert cells[5] in ("met", "**MISSED**", "n/a"), row
