"""Running a real Codex release against the scripted fake Responses API (vendored in tests/).

The configuration and the ``codex exec`` command line are the reference harness's
(codex-harness/run_harness.py): a fresh ``CODEX_HOME``, the fake model as the only provider, no
approvals, no sandbox. ``extra_config`` is appended to ``config.toml``: a test adds the README's
``[mcp_servers.streamshell]`` block there.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_responses_server import call_id_for, start_server

CONFIG_TEMPLATE = """\
model = "{model}"
model_provider = "fakeresp"
approval_policy = "never"
sandbox_mode = "danger-full-access"
experimental_use_exec_command_tool = true

[history]
persistence = "none"

[model_providers.fakeresp]
name = "fakeresp"
base_url = "http://127.0.0.1:{port}/v1"
wire_api = "responses"
env_key = "FAKE_RESPONSES_API_KEY"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 600000
"""
PROMPT = "Harness run: follow the scripted tool calls."


@dataclass
class CodexRun:
    returncode: int
    requests: list[dict[str, Any]]
    """Every request body Codex sent to the model, in order."""
    outputs: list[Any]
    """What Codex sent back for each scripted call (a string, or a list of content items)."""
    stderr: str

    def tools(self, request: int = 0) -> list[dict[str, Any]]:
        return list(self.requests[request].get("tools") or [])


def run_codex(
    codex: Path,
    script: list[dict[str, Any]],
    run_dir: Path,
    *,
    extra_config: str = "",
    model: str = "gpt-5",
    timeout: float = 300,
) -> CodexRun:
    """Run ``codex exec`` with ``script`` as the model; return what went back and forth."""
    home, work = run_dir / "codex_home", run_dir / "work"
    home.mkdir(parents=True)
    work.mkdir()
    httpd, state = start_server(script, str(run_dir))
    try:
        config = CONFIG_TEMPLATE.format(model=model, port=httpd.server_address[1])
        (home / "config.toml").write_text(config + "\n" + extra_config)
        env = {**os.environ, "CODEX_HOME": str(home), "FAKE_RESPONSES_API_KEY": "sk-fake-harness"}
        done = subprocess.run(
            [
                str(codex),
                "exec",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
                "--color",
                "never",
                "-C",
                str(work),
                PROMPT,
            ],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
        for log in (state.req_log, state.timing_log, state.other_log):
            log.close()
    requests = [
        json.loads(line).get("body") or {} for line in (run_dir / "requests.jsonl").read_text().splitlines()
    ]
    outputs: dict[str, Any] = {}
    for body in requests:
        for item in body.get("input") or []:
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                outputs.setdefault(item.get("call_id"), item.get("output"))
    return CodexRun(
        done.returncode, requests, [outputs.get(call_id_for(i)) for i in range(len(script))], done.stderr
    )
