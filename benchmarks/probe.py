"""``python -m benchmarks.probe NAME ARGUMENTS_JSON``: one isolated measurement, printed as JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from . import cluster, concurrency, memory, raw_engine

PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    "memory": memory.probe,
    "concurrency-floor": concurrency.floor_probe,
    "concurrency-streamshell": concurrency.streamshell_probe,
    "cluster-held": cluster.held_probe,
    "raw-throughput": raw_engine.probe,
}


def main(argv: list[str]) -> int:
    name, arguments = argv
    print(json.dumps(PROBES[name](**json.loads(arguments))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
