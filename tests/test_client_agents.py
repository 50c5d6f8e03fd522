"""The OpenAI Agents SDK's `MCPServerStdio` with the README's configuration, run by a scripted model.

The SDK gives up on a call after `client_session_timeout_seconds` (5 s by default); the README's
`--max-yield-time-ms 4000` makes a 7-second command come back as a running session in time, and the
model's poll collects the rest.
"""

from __future__ import annotations

import json
from typing import Any

from agents import Agent, Runner, set_tracing_disabled
from agents.mcp import MCPServerStdio
from agents.testing import ScriptedModel, assistant_message, function_call

from readme_clients import client_config


def readme_server() -> MCPServerStdio:
    """The README's block, run as it stands (with this environment's command in it)."""
    scope: dict[str, Any] = {}
    exec(client_config("agents-sdk"), scope)
    server = scope["server"]
    assert isinstance(server, MCPServerStdio)
    return server


def outputs(model: ScriptedModel) -> list[str]:
    """The function_call_output texts the SDK sent the model, in order."""
    [*_, last] = model.calls
    items = last.input if isinstance(last.input, list) else []
    found = []
    for item in items:
        item = item if isinstance(item, dict) else item.model_dump()
        if item.get("type") == "function_call_output":
            found.append(item["output"] if isinstance(item["output"], str) else json.dumps(item["output"]))
    return found


async def test_a_command_longer_than_the_sdks_timeout_comes_back_as_a_session() -> None:
    set_tracing_disabled(True)
    model = ScriptedModel(
        [
            [function_call("exec_command", {"cmd": "sleep 7; echo slept", "login": False}, call_id="c1")],
            [
                function_call(
                    "write_stdin", {"session_id": 0, "chars": "", "yield_time_ms": 30000}, call_id="c2"
                )
            ],
            [
                function_call(
                    "write_stdin", {"session_id": 0, "chars": "", "yield_time_ms": 30000}, call_id="c3"
                )
            ],
            [assistant_message("done")],
        ]
    )
    async with readme_server() as server:
        agent = Agent(name="shell", instructions="run it", model=model, mcp_servers=[server])
        result = await Runner.run(agent, "run sleep 7")
    assert result.final_output == "done"
    texts = outputs(model)
    assert texts[0].startswith('{"type":"text","text":"Wall time: 4.0') or "Wall time: 4.0" in texts[0], texts
    assert "Process running with session ID 0" in texts[0]
    # The poll ends when the command exits (~3 s later), or its capped 4 s run out first under load.
    assert any("Process exited with code 0\\nOutput:\\nslept" in t for t in texts[1:]), texts
    assert "An error occurred" not in "".join(texts)
