"""Tool definitions: the reference's, exactly; our extras only when asked for."""

from __future__ import annotations

import json
from pathlib import Path

from streamshell import responses_api_tools

REFERENCE = json.loads((Path(__file__).parent / "data" / "codex-0.29.0-tools.json").read_text())


def test_default_tools_equal_the_references() -> None:
    assert responses_api_tools() == [t for t in REFERENCE if t["name"] in ("exec_command", "write_stdin")]


def test_default_tools_serialize_like_the_reference() -> None:
    ours = json.dumps(responses_api_tools(), indent=1)
    theirs = json.dumps(REFERENCE[:2], indent=1)
    assert ours == theirs


def test_extended_tools_add_workdir_env_tty() -> None:
    exec_tool, write_tool = responses_api_tools(extended=True)
    props = exec_tool["parameters"]["properties"]
    assert list(props) == sorted(props)
    assert set(props) == {
        "cmd",
        "yield_time_ms",
        "max_output_tokens",
        "shell",
        "login",
        "workdir",
        "env",
        "tty",
        "wait_for",
        "view",
    }
    # NAME=value strings: an object as additionalProperties makes Codex 0.29 drop the whole tool
    assert props["env"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": 'Extra environment variables for the command, as "NAME=value" strings.',
    }
    assert "additionalProperties" not in json.dumps(props)
    assert props["view"]["enum"] == ["raw", "text", "screen"]
    assert exec_tool["parameters"]["required"] == ["cmd"]
    write_props = write_tool["parameters"]["properties"]
    assert set(write_props) == {*REFERENCE[1]["parameters"]["properties"], "wait_for", "view"}
    for tool, reference in ((exec_tool, REFERENCE[0]), (write_tool, REFERENCE[1])):
        # The reference's description, then one line on when a call returns.
        assert tool["description"].startswith(reference["description"] + "\n")
        assert "waits for input" in tool["description"]


def test_results_are_fresh_copies() -> None:
    tools = responses_api_tools()
    tools[0]["parameters"]["properties"]["cmd"]["description"] = "changed"
    assert (
        responses_api_tools()[0]["parameters"]["properties"]["cmd"]["description"]
        == "The shell command to execute."
    )
