"""``python -m benchmarks [--quick]``: see :mod:`benchmarks.runner`."""

from .runner import main

raise SystemExit(main())
