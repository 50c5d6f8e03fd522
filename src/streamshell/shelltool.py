"""The classic one-shot ``shell`` tool: run an argv to completion and return its output once.

This is what Codex advertises while ``experimental_use_exec_command_tool`` is off, and
what it still dispatches when it is on. As in the reference (Codex 0.29.0), the command
runs without a terminal, with stdin at /dev/null and stdout and stderr merged; it is
killed after ``timeout_ms`` (10 s by default); the model reads
``{"output":"...","metadata":{"exit_code":N,"duration_seconds":S}}``.

It runs on the session manager, so its processes are owned like any session's: killed
when the manager closes, and by the watchdog if the owner dies. Its output is cut with
``truncate_middle`` to the reference's 10 KiB budget (exactly, whatever the volume: only
the head and tail are kept while it runs). Where the reference did worse, this does
better: a timed-out command reports the output it printed and exit code 124, and a
command killed by signal N reports 128+N, instead of an error text without the output.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass

from .buffer import WINDOW_SLACK, OutputBuffer
from .errors import ExecutionError, SpawnError
from .manager import OutputCallback, SessionManager
from .output import ExecCommandOutput, Ongoing
from .params import ExecCommandParams, ShellToolCallParams, WriteStdinParams
from .truncation import TOKEN_BYTES

SHELL_TOOL_NAME = "shell"

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
    """What one ``shell`` call produced; ``output`` is already cut to the budget."""

    exit_code: int
    duration: float
    output: str

    def to_text_output(self) -> str:
        """The text the model reads: the reference's compact JSON (serde_json's form)."""
        metadata = {"exit_code": self.exit_code, "duration_seconds": round(self.duration, 1)}
        return json.dumps(
            {"output": self.output, "metadata": metadata}, ensure_ascii=False, separators=(",", ":")
        )


async def run_shell(
    manager: SessionManager, params: ShellToolCallParams, *, on_output: OutputCallback | None = None
) -> ShellOutput:
    """Run ``params.command`` to completion (or its timeout) on ``manager``.

    ``on_output`` receives the output live. Raises :class:`ExecutionError` when the
    command cannot be started, with the reason.
    """
    if not params.command:
        raise ExecutionError("command args are empty")
    timeout_ms = DEFAULT_TIMEOUT_MS if params.timeout_ms is None else params.timeout_ms
    collected = OutputBuffer(MAX_OUTPUT_BYTES + WINDOW_SLACK)

    def sink(text: str) -> None:
        collected.append(text.encode())
        if on_output is not None:
            on_output(text)

    started = time.monotonic()
    out = await _start(manager, params, timeout_ms, sink)
    code = await _wait(manager, out, started + timeout_ms / 1000, sink)
    text, _ = collected.take().render(MAX_OUTPUT_BYTES)
    if code is None:
        code = TIMEOUT_EXIT_CODE
        text = f"command timed out after {timeout_ms} milliseconds\n{text}"
    return ShellOutput(code, time.monotonic() - started, text)


async def _start(
    manager: SessionManager, params: ShellToolCallParams, timeout_ms: int, sink: OutputCallback
) -> ExecCommandOutput:
    """Start the command as a pipe session and wait for it up to the timeout (or the manager's cap).

    The manager renders nothing (a zero budget): ``sink`` collects every byte instead.
    """
    exec_params = ExecCommandParams(
        cmd=f"exec {shlex.join(params.command)} </dev/null",
        yield_time_ms=timeout_ms,
        max_output_tokens=0,
        shell=RUNNER_SHELL,
        login=False,
        workdir=params.workdir,
        tty=False,
    )
    try:
        return await manager.exec_command(exec_params, on_output=sink)
    except SpawnError as e:
        raise ExecutionError(e.reason) from None


async def _wait(
    manager: SessionManager, out: ExecCommandOutput, deadline: float, sink: OutputCallback
) -> int | None:
    """Poll until the command exits (its code) or the deadline passes (None: it was killed).

    Polling (rather than one long wait) because the manager caps a call's wait; each poll's
    ``on_output`` also gets what arrived between two polls, so ``sink`` sees every byte.
    """
    while isinstance(out.exit_status, Ongoing):
        session_id = out.exit_status.session_id
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            killed = await manager.kill_session(session_id, max_output_tokens=MAX_OUTPUT_BYTES // TOKEN_BYTES)
            if killed.output:
                sink(killed.output)
            return None
        poll = WriteStdinParams(session_id, "", yield_time_ms=remaining_ms, max_output_tokens=0)
        out = await manager.write_stdin(poll, on_output=sink)
    return out.exit_status.code
