"""The adapters with the real SDKs over real HTTP on loopback: tool calls in, exact tool results out.

Each API gets the same little task: `echo hello` (a result), then a poll of a session that never existed
(an error), then a final answer. The fakes record what the SDK sent back, and the tool results in it must
be exactly the reference's text.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import agents
import pytest
from agents.strict_schema import ensure_strict_json_schema
from agents.testing import ScriptedModel, assistant_message, function_call
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from fake_apis import anthropic_message, chat_completion, serve
from fake_responses_server import start_server
from streamshell import Exited, Ongoing, SessionManager, handle_function_call
from streamshell.adapters import (
    agents_function_tools,
    anthropic_tool_results,
    chat_completions_tool_messages,
    responses_function_call_outputs,
    strict_arguments,
)
from streamshell.tools.formats import anthropic_tools, chat_completions_tools, responses_api_tools

HELLO = "Wall time: <t> seconds\nProcess exited with code 0\nOutput:\nhello\r\n"
UNKNOWN = "unknown session id 7"
ECHO = {"cmd": "echo hello", "login": False}
POLL = {"session_id": 7, "chars": ""}
STRICT_ECHO = {
    "cmd": "echo hello",
    "login": False,
    "max_output_tokens": None,
    "shell": None,
    "yield_time_ms": None,
}
STRICT_POLL = {"session_id": 7, "chars": "", "max_output_tokens": None, "yield_time_ms": None}


def normalise(text: str) -> str:
    return re.sub(r"^Wall time: \d+\.\d{3} seconds", "Wall time: <t> seconds", text)


# --- OpenAI Responses API: the vendored fake server the reference Codex was driven with


async def test_responses_api(manager: SessionManager, tmp_path: Path) -> None:
    script = [{"name": "exec_command", "arguments": ECHO}, {"name": "write_stdin", "arguments": POLL}]
    httpd, state = start_server(script, str(tmp_path))
    client = AsyncOpenAI(
        base_url=f"http://127.0.0.1:{httpd.server_address[1]}/v1", api_key="sk-test", max_retries=0
    )
    try:
        conversation: list[Any] = [{"role": "user", "content": "say hello"}]
        while True:
            stream = await client.responses.create(
                model="test-model", input=conversation, tools=responses_api_tools(), stream=True
            )
            items = [event.item async for event in stream if event.type == "response.output_item.done"]
            conversation += [item.to_dict() for item in items]
            outputs = await responses_function_call_outputs(manager, items)
            if not outputs:
                break
            conversation += outputs
    finally:
        await client.close()
        httpd.shutdown()
        httpd.server_close()
        for log in (state.req_log, state.timing_log, state.other_log):
            log.close()
    requests = [json.loads(line)["body"] for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    sent = [(i["call_id"], normalise(i["output"])) for i in requests[-1]["input"] if "output" in i]
    assert sent == [("call_h000", HELLO), ("call_h001", UNKNOWN)]
    assert requests[0]["tools"] == responses_api_tools()
    assert conversation[-1]["content"][0]["text"] == "HARNESS_DONE"


async def test_responses_outputs_from_a_response_dict_and_strict_nulls(manager: SessionManager) -> None:
    response = {
        "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "exec_command",
                "arguments": json.dumps(STRICT_ECHO),
            },
        ]
    }
    [output] = await responses_function_call_outputs(manager, response, strict=True)
    assert (output["type"], output["call_id"], normalise(output["output"])) == (
        "function_call_output",
        "c1",
        HELLO,
    )
    [unmapped] = await responses_function_call_outputs(manager, response)
    assert unmapped["output"].startswith(
        "failed to parse function arguments: max_output_tokens: invalid type: null"
    )


# --- OpenAI Chat Completions


async def chat_loop(
    manager: SessionManager, replies: list[dict[str, Any]], *, strict: bool
) -> list[dict[str, Any]]:
    """Run a tool loop with the openai SDK against the fake; return the messages of the last request."""
    with serve(replies) as api:
        client = AsyncOpenAI(base_url=f"{api.url}/v1", api_key="sk-test", max_retries=0)
        messages: list[Any] = [{"role": "user", "content": "say hello"}]
        try:
            while True:
                completion = await client.chat.completions.create(
                    model="test-model", messages=messages, tools=chat_completions_tools(strict=strict)
                )
                message = completion.choices[0].message
                messages.append(message.model_dump(exclude_none=True))
                if not message.tool_calls:
                    break
                messages += await chat_completions_tool_messages(manager, message, strict=strict)
        finally:
            await client.close()
    assert api.paths == ["/v1/chat/completions"] * 2
    assert api.requests[0]["tools"] == chat_completions_tools(strict=strict)
    return api.requests[-1]["messages"]


@pytest.mark.parametrize("strict", [False, True])
async def test_chat_completions(manager: SessionManager, strict: bool) -> None:
    echo, poll = (STRICT_ECHO, STRICT_POLL) if strict else (ECHO, POLL)
    calls = [("call_1", "exec_command", json.dumps(echo)), ("call_2", "write_stdin", json.dumps(poll))]
    sent = await chat_loop(
        manager, [chat_completion(tool_calls=calls), chat_completion("done")], strict=strict
    )
    tool_messages = [(m["tool_call_id"], normalise(m["content"])) for m in sent if m["role"] == "tool"]
    assert tool_messages == [("call_1", HELLO), ("call_2", UNKNOWN)]


# --- Anthropic Messages


async def test_anthropic(manager: SessionManager) -> None:
    uses = [
        {"type": "tool_use", "id": "toolu_1", "name": "exec_command", "input": ECHO},
        {"type": "tool_use", "id": "toolu_2", "name": "write_stdin", "input": POLL},
    ]
    replies = [anthropic_message([{"type": "text", "text": "Running it."}, *uses]), anthropic_message([])]
    with serve(replies) as api:
        client = AsyncAnthropic(base_url=api.url, api_key="test-key", max_retries=0)
        messages: list[Any] = [{"role": "user", "content": "say hello"}]
        try:
            while True:
                message = await client.messages.create(
                    model="test-model", max_tokens=1024, messages=messages, tools=anthropic_tools()
                )
                messages.append({"role": "assistant", "content": [b.model_dump() for b in message.content]})
                results = await anthropic_tool_results(manager, message)
                if not results:
                    break
                messages.append({"role": "user", "content": results})
        finally:
            await client.close()
    assert api.paths == ["/v1/messages"] * 2
    assert api.requests[0]["tools"] == anthropic_tools()
    sent = api.requests[-1]["messages"][-1]["content"]
    assert [(r["tool_use_id"], normalise(r["content"]), r["is_error"]) for r in sent] == [
        ("toolu_1", HELLO, False),
        ("toolu_2", UNKNOWN, True),
    ]


async def test_anthropic_input_errors_name_the_field_without_a_json_position(manager: SessionManager) -> None:
    blocks = [
        {"type": "tool_use", "id": "t", "name": "write_stdin", "input": {"session_id": "3", "chars": ""}}
    ]
    [result] = await anthropic_tool_results(manager, blocks)
    assert result == {
        "type": "tool_result",
        "tool_use_id": "t",
        "content": 'failed to parse function arguments: session_id: invalid type: string "3", expected u32',
        "is_error": True,
    }


# --- OpenAI Agents SDK


@pytest.fixture(autouse=True)
def no_tracing() -> None:
    agents.set_tracing_disabled(True)


@pytest.mark.parametrize("strict", [True, False])
async def test_agents_sdk(manager: SessionManager, strict: bool) -> None:
    echo, poll = (STRICT_ECHO, STRICT_POLL) if strict else (ECHO, POLL)
    model = ScriptedModel(
        [
            [function_call("exec_command", echo, call_id="c1")],
            [function_call("write_stdin", poll, call_id="c2")],
            [assistant_message("done")],
        ]
    )
    agent = agents.Agent(
        name="shell",
        instructions="Use the tools.",
        model=model,
        tools=agents_function_tools(manager, strict=strict),
    )
    result = await agents.Runner.run(agent, "say hello")
    assert result.final_output == "done"
    model.assert_complete()
    outputs = [item for item in model.last_call.input if item.get("type") == "function_call_output"]
    assert [(o["call_id"], normalise(o["output"])) for o in outputs] == [("c1", HELLO), ("c2", UNKNOWN)]


@pytest.mark.parametrize("extended", [False, True])
def test_agents_tools_carry_strict_schemas_the_sdk_accepts_as_they_are(
    manager: SessionManager, extended: bool
) -> None:
    tools = agents_function_tools(manager, extended=extended)
    expected = responses_api_tools(extended=extended, strict=True)
    for tool, ours in zip(tools, expected, strict=True):
        assert (tool.name, tool.description, tool.strict_json_schema) == (
            ours["name"],
            ours["description"],
            True,
        )
        assert tool.params_json_schema == ours["parameters"]
        assert ensure_strict_json_schema(copy.deepcopy(ours["parameters"])) == ours["parameters"]


# --- strict schemas and their nulls


def test_strict_schemas_require_everything_and_make_optionals_nullable() -> None:
    exec_tool, write_tool = responses_api_tools(extended=True, strict=True)
    props = exec_tool["parameters"]["properties"]
    assert exec_tool["strict"] is True
    assert sorted(exec_tool["parameters"]["required"]) == sorted(props)
    # NAME=value strings, not a free-form map (which strict mode cannot express)
    assert props["env"] == {
        "type": ["array", "null"],
        "items": {"type": "string"},
        "description": 'Extra environment variables for the command, as "NAME=value" strings.',
    }
    assert props["cmd"]["type"] == "string"
    assert props["yield_time_ms"]["type"] == ["number", "null"]
    assert props["workdir"]["type"] == ["string", "null"]
    assert write_tool["parameters"]["properties"]["session_id"]["type"] == "number"
    assert exec_tool["parameters"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"cmd": "ls", "shell": null}', {"cmd": "ls"}),
        ({"session_id": 1, "chars": "", "yield_time_ms": None}, {"session_id": 1, "chars": ""}),
        ("{not json", "{not json"),
        ("[1]", "[1]"),
        (None, None),
    ],
)
def test_strict_arguments_drop_nulls(arguments: Any, expected: Any) -> None:
    assert strict_arguments(arguments) == expected


# --- the dispatcher the adapters share


async def test_dispatch_takes_parsed_arguments_and_streams_output(manager: SessionManager) -> None:
    seen: list[str] = []
    out = await handle_function_call(
        manager, "exec_command", {"cmd": "echo hi", "login": False}, on_output=seen.append
    )
    assert out.success and out.exit_status == Exited(0)
    assert "".join(seen) == "hi\r\n"
    running = await handle_function_call(
        manager, "exec_command", {"cmd": "cat", "login": False, "yield_time_ms": 0}
    )
    assert running.exit_status == Ongoing(1)
    bad = await handle_function_call(manager, "exec_command", {"cmd": 1})
    assert (bad.content, bad.success, bad.exit_status) == (
        "failed to parse function arguments: cmd: invalid type: integer `1`, expected a string",
        False,
        None,
    )
