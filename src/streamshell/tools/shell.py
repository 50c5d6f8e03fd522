"""The classic one-shot ``shell`` tool: run an argv to completion and return its output once.

This is what Codex advertises while ``experimental_use_exec_command_tool`` is off, and
what it still dispatches when it is on. As in the reference (Codex 0.29.0), the command
runs without a terminal, with stdin at /dev/null and stdout and stderr merged; it is
killed after ``timeout_ms`` (10 s by default); the model reads
``{"output":"...","metadata":{"exit_code":N,"duration_seconds":S}}``.

It runs on the session manager (:meth:`SessionManager.run`), so its processes are owned
like any session's: killed when the manager closes, and by the watchdog if the owner
dies. Its output is cut with ``truncate_middle`` to the reference's 10 KiB budget, once,
exactly, whatever the volume. Where the reference did worse, this does better: a
timed-out command reports the output it printed and exit code 124, and a command killed
by signal N reports 128+N, instead of an error text without the output.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from ..errors import ExecutionError, SpawnError
from ..params import ExecCommandParams, ShellToolCallParams
from ..results import Exited
from .backend import OutputCallback, SessionBackend

DEFAULT_TIMEOUT_MS = 10_000
"""The reference's timeout when the model gives none."""

MAX_OUTPUT_BYTES = 10 * 1024
"""The reference's budget for what the model reads of one command's output."""

TIMEOUT_EXIT_CODE = 124
"""Exit code reported for a command killed at its timeout (as coreutils ``timeout`` does)."""

RUNNER_SHELL = "/bin/sh"
"""Runs ``exec ARGV </dev/null``: the argv replaces it, as the reference's execvp would run it."""


@dataclass(frozen=True)
class ShellOutput:
    """What one ``shell`` call produced; ``output`` is already cut to the budget. ``signal`` is set
    when a signal killed the command (``exit_code`` is then 128+N), not when its timeout did."""

    exit_code: int
    duration: float
    output: str
    signal: int | None = None

    def to_text_output(self) -> str:
        """The text the model reads: the reference's compact JSON (serde_json's form)."""
        metadata = {"exit_code": self.exit_code, "duration_seconds": round(self.duration, 1)}
        return json.dumps(
            {"output": self.output, "metadata": metadata}, ensure_ascii=False, separators=(",", ":")
        )


async def run_shell(
    manager: SessionBackend, params: ShellToolCallParams, *, on_output: OutputCallback | None = None
) -> ShellOutput:
    """Run ``params.command`` to completion (or its timeout) on ``manager``.

    ``on_output`` receives the output live. Raises :class:`ExecutionError` when the
    command cannot be started, with the reason.
    """
    if not params.command:
        raise ExecutionError("command args are empty")
    timeout_ms = DEFAULT_TIMEOUT_MS if params.timeout_ms is None else params.timeout_ms
    exec_params = ExecCommandParams(
        cmd=f"exec {shlex.join(params.command)} </dev/null",
        max_output_tokens=MAX_OUTPUT_BYTES // 4,
        shell=RUNNER_SHELL,
        login=False,
        workdir=params.workdir,
        tty=False,
    )
    try:
        out, timed_out = await manager.run(exec_params, timeout=timeout_ms / 1000, on_output=on_output)
    except SpawnError as e:
        raise ExecutionError(e.reason) from None
    assert isinstance(out.exit_status, Exited)
    if timed_out:
        text = f"command timed out after {timeout_ms} milliseconds\n{out.output}"
        return ShellOutput(TIMEOUT_EXIT_CODE, out.wall_time, text)
    return ShellOutput(out.exit_status.code, out.wall_time, out.output, out.exit_status.signal)
