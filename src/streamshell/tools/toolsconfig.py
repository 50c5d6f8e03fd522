"""Which shell tool the model is given: the reference's ``ToolsConfig`` (Codex ``openai_tools.rs``).

Codex has three shell tools: the one-shot ``shell`` function, its on-request approval
variant (a sandbox-aware description, and escalation fields under workspace-write), and
the Responses API's built-in ``local_shell`` for the model families trained on it. PR
#2574 added a fourth, the streamable pair ``exec_command`` + ``write_stdin``, picked by
``experimental_use_exec_command_tool``; with it on, the approval policy "on request" no
longer swaps in the approval variant. This module ports that choice and the definitions it
chooses between, with Codex 0.29.0's exact texts (the only tools of its list that are
shell tools: streamshell has no plan, patch or image tools).

The sandbox policy described to the model is the one sessions are run under
(:class:`~streamshell._engine.sandbox.SandboxPolicy`, ``ManagerOptions.policy``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .._engine.sandbox import SandboxMode, SandboxPolicy
from .formats import responses_api_tools, responses_function

__all__ = [
    "AskForApproval",
    "SandboxMode",
    "SandboxPolicy",
    "ShellToolType",
    "ToolsConfig",
    "shell_tool",
    "shell_tool_for_sandbox",
]
from .registry import SHELL
from .schema import JsonObject


class AskForApproval(enum.StrEnum):
    """When Codex asks the user before running a command (its ``approval_policy``)."""

    UNTRUSTED = "untrusted"
    ON_FAILURE = "on-failure"
    ON_REQUEST = "on-request"
    NEVER = "never"


class ShellToolType(enum.Enum):
    """The reference's ``ConfigShellToolType``."""

    DEFAULT_SHELL = "default"
    SHELL_WITH_REQUEST = "with_request"
    LOCAL_SHELL = "local"
    STREAMABLE_SHELL = "streamable"


@dataclass(frozen=True)
class ToolsConfig:
    """Which shell tool to advertise; build it with :meth:`new`, as the reference does."""

    shell_type: ShellToolType
    sandbox_policy: SandboxPolicy = field(default_factory=SandboxPolicy)

    @classmethod
    def new(
        cls,
        *,
        approval_policy: AskForApproval = AskForApproval.NEVER,
        sandbox_policy: SandboxPolicy | None = None,
        use_exec_command_tool: bool = False,
        model_uses_local_shell_tool: bool = False,
    ) -> ToolsConfig:
        """The reference's ``ToolsConfig::new``: the streamable pair when asked for, and then
        whatever the approval policy; otherwise the model family's shell, replaced by the
        approval variant when the policy is on-request."""
        if use_exec_command_tool:
            shell_type = ShellToolType.STREAMABLE_SHELL
        elif model_uses_local_shell_tool:
            shell_type = ShellToolType.LOCAL_SHELL
        else:
            shell_type = ShellToolType.DEFAULT_SHELL
        if approval_policy is AskForApproval.ON_REQUEST and not use_exec_command_tool:
            shell_type = ShellToolType.SHELL_WITH_REQUEST
        return cls(shell_type, sandbox_policy or SandboxPolicy())

    def openai_tools(self) -> list[JsonObject]:
        """The shell tools to send as the Responses API ``tools`` (the reference's ``get_openai_tools``)."""
        match self.shell_type:
            case ShellToolType.DEFAULT_SHELL:
                return [shell_tool()]
            case ShellToolType.SHELL_WITH_REQUEST:
                return [shell_tool_for_sandbox(self.sandbox_policy)]
            case ShellToolType.LOCAL_SHELL:
                return [{"type": "local_shell"}]
            case ShellToolType.STREAMABLE_SHELL:
                return responses_api_tools()


_ESCALATION_HOWTO = """\
- When invoking a command that will require escalated privileges:
  - Provide the with_escalated_permissions parameter with the boolean value true
  - Include a short, 1 sentence explanation for why we need to run with_escalated_permissions \
in the justification parameter"""

_READ_ONLY_DESCRIPTION = f"""
The shell tool is used to execute shell commands.
- When invoking the shell tool, your call will be running in a landlock sandbox, and some shell \
commands (including apply_patch) will require escalated permissions:
  - Types of actions that require escalated privileges:
    - Reading files outside the current directory
    - Writing files
    - Applying patches
  - Examples of commands that require escalated privileges:
    - apply_patch
    - git commit
    - npm install or pnpm install
    - cargo build
    - cargo test
{_ESCALATION_HOWTO}"""

_WORKSPACE_WRITE_DESCRIPTION = """
The shell tool is used to execute shell commands.
- When invoking the shell tool, your call will be running in a landlock sandbox, and some shell \
commands will require escalated privileges:
  - Types of actions that require escalated privileges:
    - Reading files outside the current directory
    - Writing files outside the current directory, and protected folders like .git or .env{network}
  - Examples of commands that require escalated privileges:
    - git commit
    - npm install or pnpm install
    - cargo build
    - cargo test
{howto}."""

_NO_NETWORK = "\n  - Commands that require network access\n"


def shell_tool() -> JsonObject:
    """The one-shot ``shell`` tool as Codex 0.29.0 advertised it by default."""
    return responses_function(SHELL)


def shell_tool_for_sandbox(policy: SandboxPolicy) -> JsonObject:
    """The approval variant of ``shell`` (approval policy on-request), described for ``policy``.

    Only workspace-write adds the escalation fields, as in the reference.
    """
    match policy.mode:
        case SandboxMode.DANGER_FULL_ACCESS:
            return responses_function(SHELL, description="Runs a shell command and returns its output.")
        case SandboxMode.READ_ONLY:
            return responses_function(SHELL, description=_READ_ONLY_DESCRIPTION)
        case SandboxMode.WORKSPACE_WRITE:
            network = "" if policy.network_access else _NO_NETWORK
            description = _WORKSPACE_WRITE_DESCRIPTION.format(network=network, howto=_ESCALATION_HOWTO)
            return responses_function(SHELL, description=description, escalation=True)
