"""streamshell's benchmarks: each metric against a floor measured side by side, in the same run.

``python -m benchmarks`` (``make bench``) runs every metric and writes ``BENCHMARKS.md``;
``--quick`` runs a reduced version. Ratios, not absolute times, are the point: the machines
are shared and noisy (absolute times drift 2x between runs), so each floor and streamshell
alternate (A B A B) and drift hits both. Linux only: the floors read ``/proc`` and PTYs.

Each metric is one module with a ``rows(sizes)`` coroutine returning its table rows.
"""
