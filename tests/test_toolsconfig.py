"""The shell tool choice, ported from the reference's `openai_tools.rs` tests (Codex PR #2574).

The reference's tests build a `ToolsConfig` for a model family and an approval policy and check the
names of the tools it advertises; the plan, patch and image tools they also list are not streamshell's,
so only the shell tools are compared. `data/codex-0.29.0-shell-tools.json` holds the shell tools the real
Codex 0.29.0 sent in its first request for each configuration (captured against the fake Responses
server): every definition here must equal it byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamshell.tools.formats import responses_api_tools
from streamshell.tools.toolsconfig import (
    AskForApproval,
    SandboxMode,
    SandboxPolicy,
    ShellToolType,
    ToolsConfig,
    shell_tool,
)

CODEX = json.loads((Path(__file__).parent / "data" / "codex-0.29.0-shell-tools.json").read_text())
READ_ONLY = SandboxPolicy(SandboxMode.READ_ONLY)
WORKSPACE_WRITE = SandboxPolicy(SandboxMode.WORKSPACE_WRITE)


def names(config: ToolsConfig) -> list[str]:
    return [tool.get("name") or tool["type"] for tool in config.openai_tools()]


# --- the reference's tests, with use_experimental_streamable_shell_tool = false as the PR passes it


def test_get_openai_tools() -> None:
    """codex-mini-latest uses the local shell tool."""
    config = ToolsConfig.new(
        approval_policy=AskForApproval.NEVER,
        sandbox_policy=READ_ONLY,
        use_exec_command_tool=False,
        model_uses_local_shell_tool=True,
    )
    assert names(config) == ["local_shell"]


def test_get_openai_tools_default_shell() -> None:
    """o3 gets the function-call shell."""
    config = ToolsConfig.new(
        approval_policy=AskForApproval.NEVER, sandbox_policy=READ_ONLY, use_exec_command_tool=False
    )
    assert names(config) == ["shell"]


def test_mcp_tool_tests_start_with_the_default_shell() -> None:
    """The reference's five MCP-conversion tests (mcp_tools, missing type, integer, array without
    items, anyOf) all build this config and expect `shell` first; the MCP conversion itself is not
    streamshell's (its MCP server serves its own tools)."""
    config = ToolsConfig.new(
        approval_policy=AskForApproval.NEVER, sandbox_policy=READ_ONLY, use_exec_command_tool=False
    )
    assert names(config) == ["shell"]


# --- what the diff implies: the flag selects the pair, and wins over on-request and the model family


@pytest.mark.parametrize("approval", list(AskForApproval))
@pytest.mark.parametrize("local_shell_model", [False, True])
def test_exec_command_flag_advertises_the_pair(approval: AskForApproval, local_shell_model: bool) -> None:
    config = ToolsConfig.new(
        approval_policy=approval,
        sandbox_policy=WORKSPACE_WRITE,
        use_exec_command_tool=True,
        model_uses_local_shell_tool=local_shell_model,
    )
    assert config.shell_type is ShellToolType.STREAMABLE_SHELL
    assert config.openai_tools() == responses_api_tools()
    assert names(config) == ["exec_command", "write_stdin"]


@pytest.mark.parametrize("local_shell_model", [False, True])
def test_on_request_without_the_flag_swaps_in_the_approval_variant(local_shell_model: bool) -> None:
    config = ToolsConfig.new(
        approval_policy=AskForApproval.ON_REQUEST, model_uses_local_shell_tool=local_shell_model
    )
    assert config.shell_type is ShellToolType.SHELL_WITH_REQUEST


def test_defaults_are_the_default_shell_without_approval() -> None:
    assert ToolsConfig.new() == ToolsConfig(ShellToolType.DEFAULT_SHELL, SandboxPolicy())


# --- byte for byte what Codex 0.29.0 advertised

CONFIGS = {
    "default (approval never)": ToolsConfig.new(),
    "on-request, read-only": ToolsConfig.new(
        approval_policy=AskForApproval.ON_REQUEST, sandbox_policy=READ_ONLY
    ),
    "on-request, workspace-write": ToolsConfig.new(
        approval_policy=AskForApproval.ON_REQUEST, sandbox_policy=WORKSPACE_WRITE
    ),
    "on-request, workspace-write, network_access": ToolsConfig.new(
        approval_policy=AskForApproval.ON_REQUEST,
        sandbox_policy=SandboxPolicy(SandboxMode.WORKSPACE_WRITE, network_access=True),
    ),
    "on-request, danger-full-access": ToolsConfig.new(approval_policy=AskForApproval.ON_REQUEST),
    "codex-mini-latest (local shell)": ToolsConfig.new(model_uses_local_shell_tool=True),
    "experimental_use_exec_command_tool, on-request, workspace-write": ToolsConfig.new(
        approval_policy=AskForApproval.ON_REQUEST, sandbox_policy=WORKSPACE_WRITE, use_exec_command_tool=True
    ),
}


def test_every_captured_configuration_is_covered() -> None:
    assert sorted(CONFIGS) == sorted(CODEX)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_tools_equal_codex_0_29(name: str) -> None:
    ours = CONFIGS[name].openai_tools()
    assert ours == CODEX[name]
    assert json.dumps(ours, ensure_ascii=False) == json.dumps(CODEX[name], ensure_ascii=False)


def test_definitions_are_fresh_copies() -> None:
    tool = shell_tool()
    tool["parameters"]["properties"]["command"]["description"] = "changed"
    assert shell_tool()["parameters"]["properties"]["command"]["description"] == "The command to execute"
