"""The ``streamshell`` command: ``serve`` (the MCP server), ``tools`` (definitions as JSON), ``call``,
``agent`` (an agent loop on the OpenAI Responses API), ``attach`` (a running server's session, live in
this terminal).

Only ``serve`` imports the MCP SDK and only ``agent`` the OpenAI SDK, so ``streamshell
tools`` is instant.

Exit codes: 0 success; 1 a tool call returned an error (``call``); 2 bad usage (flags,
arguments); 3 the command could not run (port in use, missing dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._version import __version__
from ..profiles import Profile
from ..tools.names import MCP_TOOLS, TOOL_NAMES
from .attach import add_attach_flags, attach
from .flags import (
    EXIT_CALL_FAILED,
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
    UsageError,
    add_manager_flags,
    manager_options,
    port,
    tool_list,
)
from .serve import DEFAULT_PORT, TOKEN_ENV, add_client_flags, serve

TOOL_FORMATS = ("responses", "chat", "anthropic", "mcp")
"""``streamshell tools --format``: the API shapes of :mod:`streamshell.tools.formats` (imported to print)."""

Subcommands = Any
"""argparse's subparsers object (its class is private)."""


class _Parser(argparse.ArgumentParser):
    """A subcommand's parser whose epilog is worked out when its help is shown, not when the command
    line is parsed (the agent's lists its config keys: loading them is not on ``serve``'s way)."""

    def __init__(self, *args: Any, epilog_from: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epilog_from = epilog_from

    def format_help(self) -> str:
        if self._epilog_from is not None:
            self.epilog = self._epilog_from()
        return super().format_help()


HELP_FIELDS = {"tools": ", ".join(TOOL_NAMES), "mcp_tools": ", ".join(MCP_TOOLS), "token_env": TOKEN_ENV}
"""What a subcommand's help may name with ``{field}``: facts declared elsewhere, never retyped."""


def _subparser(sub: Subcommands, name: str, run: Callable[[argparse.Namespace], int], **kwargs: Any) -> Any:
    """Subcommand ``name``'s parser, run by ``run``. ``run``'s docstring is the help: its first
    paragraph the line ``streamshell --help`` lists, the rest the description (with ``HELP_FIELDS``)."""
    summary, _, description = inspect.cleandoc(run.__doc__ or "").partition("\n\n")
    p = sub.add_parser(
        name,
        help=summary[:1].lower() + summary[1:].rstrip("."),
        description=description.format(**HELP_FIELDS),
        **kwargs,
    )
    p.set_defaults(run=run)
    return p


def _add_serve(sub: Subcommands) -> None:
    p = _subparser(sub, "serve", serve)
    p.add_argument("--http", action="store_true", help="serve Streamable HTTP instead of stdio")
    p.add_argument(
        "--host", default="127.0.0.1", help=f"HTTP address (default 127.0.0.1; others need ${TOKEN_ENV})"
    )
    p.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests addressed to NAME (a host name or address clients use to reach a "
        "non-loopback --host such as 0.0.0.0); repeatable. Others get 421, as DNS-rebinding protection asks",
    )
    p.add_argument(
        "--tools",
        type=tool_list,
        default=MCP_TOOLS,
        metavar="NAMES",
        help=f"comma-separated tools to serve, of {', '.join(TOOL_NAMES)} (default: {','.join(MCP_TOOLS)})",
    )
    p.add_argument(
        "--schema",
        choices=("extended", "reference"),
        default="extended",
        help="exec_command's input schema: with workdir/env/tty (default) or exactly the reference's "
        "(which also leaves exit notices out of the results' text)",
    )
    p.add_argument(
        "--ui",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --http, serve the page at /ui where people watch every client's sessions (log in "
        "with the token; default: yes)",
    )
    p.add_argument(
        "--ui-input",
        action="store_true",
        help="let people logged in to the page type into sessions and kill them (default: watch only)",
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the sessions on the nodes of the Ray cluster at ADDRESS (HOST:PORT, auto, ray://HOST:PORT) "
        "instead of here; needs streamshell[ray] here and on every node",
    )
    add_manager_flags(p)
    add_client_flags(p)


def _add_attach(sub: Subcommands) -> None:
    add_attach_flags(_subparser(sub, "attach", attach))


def _add_tools(sub: Subcommands) -> None:
    p = _subparser(sub, "tools", _tools)
    p.add_argument(
        "--format", choices=tuple(TOOL_FORMATS), default="responses", help="API shape (default responses)"
    )
    p.add_argument(
        "--schema",
        choices=("reference", "extended"),
        default="reference",
        help="exec_command's input schema: exactly the reference's (default) or with workdir/env/tty, "
        "which `serve` advertises by default",
    )
    p.add_argument(
        "--profile",
        choices=[profile.value for profile in Profile],
        default=Profile.REFERENCE.value,
        help="whose definitions: Codex 0.29's (reference, the default) or current Codex's (unified)",
    )


def _add_call(sub: Subcommands) -> None:
    p = _subparser(sub, "call", _call)
    p.add_argument(
        "calls", nargs="+", metavar="NAME ARGUMENTS", help="tool name, then its arguments as a JSON object"
    )
    add_manager_flags(p, commands_defaults=False)


def _add_agent(sub: Subcommands) -> None:
    p = _subparser(sub, "agent", _agent, epilog_from=_agent_epilog)
    p.add_argument("task", nargs="+", help="what to do (several words are joined with spaces)")
    p.add_argument("--config", metavar="PATH", help="the config file (default: the one named below)")
    p.add_argument(
        "-c",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key; VALUE is TOML, else a string (repeatable): -c model=o3",
    )
    p.add_argument("--json", action="store_true", help="print one JSON event per line on stdout instead")


def _agent_epilog() -> str:
    from ..agent.config import ACCEPTED_KEYS, default_config_path

    return f"Config file: {default_config_path()} (TOML). Keys: {', '.join(ACCEPTED_KEYS)}."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamshell",
        description="Long-running, interactive shell sessions for LLM agents (exec_command / write_stdin).",
        epilog="Exit codes: 0 ok, 1 a tool call failed, 2 bad usage, 3 could not run.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for add in (_add_serve, _add_tools, _add_call, _add_agent, _add_attach):
        add(sub)
    for name, subparser in sub.choices.items():
        subparser.set_defaults(command_parser=subparser, command=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.command_parser
    if unknown:  # reported with the subcommand's usage, which lists what it accepts
        command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        code: int = args.run(args)
    except UsageError as e:
        command_parser.error(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _stdout_closed()
    return code


def _stdout_closed() -> int:
    """The reader of our stdout went away (``streamshell tools | head -1``): end quietly, and point
    stdout at /dev/null so that the interpreter's final flush does not complain either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def _tools(args: argparse.Namespace) -> int:
    """Print the tool definitions as JSON.

    Print exec_command and write_stdin ({mcp_tools} for --format mcp) as JSON.
    """
    from ..tools import formats

    shape = {
        "responses": formats.responses_api_tools,
        "chat": formats.chat_completions_tools,
        "anthropic": formats.anthropic_tools,
        "mcp": formats.mcp_tools,
    }[args.format]
    tools = shape(extended=args.schema == "extended", profile=args.profile)
    sys.stdout.write(json.dumps(tools, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return EXIT_OK


def _call(args: argparse.Namespace) -> int:
    """Make tool calls by hand, in one process.

    Run one or more tool calls through the same dispatcher a model's calls go through and print each
    result; any tool: {tools}. Sessions live only as long as this process: use several NAME ARGUMENTS
    pairs in one command to drive an interactive session, e.g. call exec_command '{{"cmd": "cat",
    "yield_time_ms": 0}}' write_stdin '{{"session_id": 0, "chars": "hi\\n"}}'.
    """
    if len(args.calls) % 2:
        raise UsageError("call takes NAME ARGUMENTS pairs: every tool name needs its JSON arguments")
    pairs = list(zip(args.calls[::2], args.calls[1::2], strict=True))

    from .._engine.manager import SessionManager
    from ..tools.dispatch import handle_function_call

    options = manager_options(args)

    async def run() -> int:
        failed = False
        async with SessionManager(options) as manager:
            for i, (name, arguments) in enumerate(pairs):
                result = await handle_function_call(manager, name, arguments)
                if i:
                    print()
                print(result.content, end="" if result.content.endswith("\n") else "\n", flush=True)
                failed |= not result.success
        return EXIT_CALL_FAILED if failed else EXIT_OK

    return asyncio.run(run())


def _agent(args: argparse.Namespace) -> int:
    """Work on a task with a model (OpenAI Responses API) that runs commands here.

    Give TASK to the model and run the shell commands it asks for, without approval, until it answers:
    each command, its live output and exit status go to stderr, the answer to stdout. Needs
    OPENAI_API_KEY; the endpoint is base_url, else OPENAI_BASE_URL, else OpenAI's. Ctrl-C stops the
    agent and kills every command it started.
    """
    from ..agent.config import ConfigError, load_config

    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"streamshell agent: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from ..agent.loop import run_agent
    except ImportError as e:
        print(
            f"streamshell: the agent needs the openai package ({e}): pip install 'streamshell[openai]'",
            file=sys.stderr,
        )
        return EXIT_RUNTIME
    from ..agent.display import JsonDisplay, TerminalDisplay

    display = JsonDisplay(sys.stdout) if args.json else TerminalDisplay(sys.stdout, sys.stderr)
    try:
        done = asyncio.run(run_agent(" ".join(args.task), config, display))
    except ConfigError as e:
        print(f"streamshell agent: {e}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if done else EXIT_RUNTIME
