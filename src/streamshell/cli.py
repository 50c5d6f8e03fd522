"""The ``streamshell`` command: ``serve`` (the MCP server), ``tools`` (definitions as JSON), ``call``,
``agent`` (an agent loop on the OpenAI Responses API).

Only ``serve`` imports the MCP SDK (about 1.7 s) and only ``agent`` the OpenAI SDK, so
``streamshell tools`` is instant.

Exit codes: 0 success; 1 a tool call returned an error (``call``); 2 bad usage (flags,
arguments); 3 the command could not run (port in use, missing dependency).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import secrets
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__
from .config import ConfigError, default_config_path, load_config
from .dispatch import handle_function_call
from .display import JsonDisplay, TerminalDisplay
from .manager import SessionManager
from .tools import ALL_TOOL_SPECS, anthropic_tools, chat_completions_tools, mcp_tools, responses_api_tools

EXIT_OK = 0
EXIT_CALL_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNTIME = 3

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8765
TOKEN_ENV = "STREAMSHELL_TOKEN"

TOOL_FORMATS: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "responses": lambda extended: responses_api_tools(extended=extended),
    "chat": lambda extended: chat_completions_tools(extended=extended),
    "anthropic": lambda extended: anthropic_tools(extended=extended),
    "mcp": lambda extended: mcp_tools(extended=extended),
}


class UsageError(Exception):
    """A flag or argument the user must fix (exit code 2)."""


def _tool_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_TOOL_SPECS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown tool(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(ALL_TOOL_SPECS)}"
        )
    return names


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 picks a free port)")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _directory(text: str) -> str:
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return os.path.abspath(text)


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run the MCP server (stdio by default)",
        description=(
            "Serve exec_command, write_stdin, list_sessions and kill_session over MCP: on stdin/stdout "
            "(default), or as Streamable HTTP at http://HOST:PORT/mcp with --http. Over HTTP every request "
            f"needs 'Authorization: Bearer TOKEN'; TOKEN comes from ${TOKEN_ENV}, "
            "or is generated and printed. "
            "All clients share the server's sessions; they are killed when the server stops."
        ),
    )
    p.add_argument("--http", action="store_true", help="serve Streamable HTTP instead of stdio")
    p.add_argument(
        "--host", default="127.0.0.1", help=f"HTTP address (default 127.0.0.1; others need ${TOKEN_ENV})"
    )
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
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
        type=_tool_list,
        default=tuple(ALL_TOOL_SPECS),
        metavar="NAMES",
        help=f"comma-separated tools to serve (default: {','.join(ALL_TOOL_SPECS)})",
    )
    p.add_argument(
        "--schema",
        choices=("extended", "reference"),
        default="extended",
        help="exec_command's input schema: with workdir/env/tty (default) or exactly the reference's",
    )
    p.add_argument("--max-sessions", type=_positive, default=64, help="open sessions at most (default 64)")
    p.add_argument(
        "--keep-unread-output",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="return output printed between calls with the next call (default: yes)",
    )
    p.add_argument(
        "--cwd", type=_directory, help="working directory of new sessions (default: the current one)"
    )
    p.set_defaults(run=_serve)


def _add_tools(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tools",
        help="print the tool definitions as JSON",
        description="Print exec_command and write_stdin (all four tools for --format mcp) as JSON.",
    )
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
    p.set_defaults(run=_tools)


def _add_call(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "call",
        help="make tool calls by hand, in one process",
        description=(
            "Run one or more tool calls through the same dispatcher a model's calls go through and print "
            "each result. Sessions live only as long as this process: use several NAME ARGUMENTS pairs in "
            "one command to drive an interactive session, e.g. "
            """call exec_command '{"cmd": "cat", "yield_time_ms": 0}' """
            """write_stdin '{"session_id": 0, "chars": "hi\\n"}'."""
        ),
    )
    p.add_argument(
        "calls", nargs="+", metavar="NAME ARGUMENTS", help="tool name, then its arguments as a JSON object"
    )
    p.set_defaults(run=_call)


def _add_agent(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "agent",
        help="work on a task with a model (OpenAI Responses API) that runs commands here",
        description=(
            "Give TASK to the model and run the shell commands it asks for, without approval, until it "
            "answers: each command, its live output and exit status go to stderr, the answer to stdout. "
            "Needs OPENAI_API_KEY; the endpoint is base_url, else OPENAI_BASE_URL, else OpenAI's. "
            "Ctrl-C stops the agent and kills every command it started."
        ),
        epilog=(
            f"Config file: {default_config_path()} (TOML). Keys: model, base_url, "
            "experimental_use_exec_command_tool (exec_command + write_stdin instead of the one-shot shell "
            "tool), experimental_instructions_file, max_sessions, keep_unread_output, cwd."
        ),
    )
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
    p.set_defaults(run=_agent)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_serve,
    _add_tools,
    _add_call,
    _add_agent,
]
"""Each adds one subcommand; other modules append theirs."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamshell",
        description="Long-running, interactive shell sessions for LLM agents (exec_command / write_stdin).",
        epilog="Exit codes: 0 ok, 1 a tool call failed, 2 bad usage, 3 could not run.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageError as e:
        parser.error(str(e))
    except KeyboardInterrupt:
        return 130
    return code


# ----- tools ---------------------------------------------------------------------------------


def _tools(args: argparse.Namespace) -> int:
    print(json.dumps(TOOL_FORMATS[args.format](args.schema == "extended"), indent=2, ensure_ascii=False))
    return EXIT_OK


# ----- call ----------------------------------------------------------------------------------


def _call(args: argparse.Namespace) -> int:
    if len(args.calls) % 2:
        raise UsageError("call takes NAME ARGUMENTS pairs: every tool name needs its JSON arguments")
    pairs = list(zip(args.calls[::2], args.calls[1::2], strict=True))

    async def run() -> int:
        failed = False
        async with SessionManager() as manager:
            for i, (name, arguments) in enumerate(pairs):
                result = await handle_function_call(manager, name, arguments)
                if i:
                    print()
                print(result.content, end="" if result.content.endswith("\n") else "\n", flush=True)
                failed |= not result.success
        return EXIT_CALL_FAILED if failed else EXIT_OK

    return asyncio.run(run())


# ----- agent ---------------------------------------------------------------------------------


def _agent(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as e:
        print(f"streamshell agent: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from .agent import run_agent
    except ImportError as e:
        print(
            f"streamshell: the agent needs the openai package ({e}): pip install 'streamshell[openai]'",
            file=sys.stderr,
        )
        return EXIT_RUNTIME
    display = JsonDisplay(sys.stdout) if args.json else TerminalDisplay(sys.stdout, sys.stderr)
    try:
        done = asyncio.run(run_agent(" ".join(args.task), config, display))
    except ConfigError as e:
        print(f"streamshell agent: {e}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if done else EXIT_RUNTIME


# ----- serve ---------------------------------------------------------------------------------


MAX_OPEN_FILES = 1 << 20
"""The soft limit asked for when the hard one is unlimited (macOS refuses "unlimited")."""


def _raise_open_files_limit() -> None:
    """Each session holds 2-3 fds: lift the soft limit to the hard one (often 1024 -> much more).

    Best effort: a system that refuses keeps its limit, and a session that runs out of fds
    gets a clear spawn error."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def _command_line() -> list[str]:
    """How an MCP client should start this server over stdio."""
    script = os.path.join(os.path.dirname(sys.executable), "streamshell")
    if os.access(script, os.X_OK):
        return [script, "serve"]
    return [sys.executable, "-m", "streamshell", "serve"]


def connection_help(url: str, token: str) -> str:
    """What ``make run`` prints: the URL and token, and how to add the server to common clients."""
    command, *rest = _command_line()
    toml_args = ", ".join(json.dumps(a) for a in rest)
    desktop = {"mcpServers": {"streamshell": {"command": command, "args": rest}}}
    return f"""\
streamshell {__version__}: MCP over Streamable HTTP at {url}
token: {token}   (every request needs "Authorization: Bearer <token>"; set ${TOKEN_ENV} to choose it)

Claude Code (this running server, over HTTP):
  claude mcp add --transport http streamshell {url} --header "Authorization: Bearer {token}"

Codex, in ~/.codex/config.toml (starts its own server over stdio):
  [mcp_servers.streamshell]
  command = {json.dumps(command)}
  args = [{toml_args}]

Claude Desktop, in claude_desktop_config.json (starts its own server over stdio):
  {json.dumps(desktop)}

Stop with Ctrl-C; every session's processes are killed then.
"""


def _serve(args: argparse.Namespace) -> int:
    token = os.environ.get(TOKEN_ENV) or None
    if args.http and args.host not in LOOPBACK_HOSTS and not token:
        raise UsageError(
            f"refusing to serve on non-loopback host {args.host} with a generated token: "
            f"set {TOKEN_ENV} to the token clients must send"
        )
    _raise_open_files_limit()
    sock = None
    if args.http:
        try:
            sock = _listen(args.host, args.port)
        except OSError as e:
            print(f"streamshell: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
            return EXIT_RUNTIME
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    for noisy in ("mcp", "httpx", "httpcore", "uvicorn"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        from .server import build_server, serve_http, serve_stdio
    except ImportError as e:
        print(
            f"streamshell: the MCP server needs the mcp package ({e}): pip install 'streamshell[mcp]'",
            file=sys.stderr,
        )
        return EXIT_RUNTIME

    def make_manager() -> SessionManager:
        return SessionManager(
            max_sessions=args.max_sessions, keep_unread_output=args.keep_unread_output, cwd=args.cwd
        )

    server = build_server(make_manager, tools=args.tools, extended=args.schema == "extended")
    import anyio

    if sock is None:
        anyio.run(_until_signalled, serve_stdio(server))
        return EXIT_OK
    token = token or secrets.token_urlsafe(32)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(connection_help(f"http://{shown}:{port}/mcp", token), flush=True)
    anyio.run(serve_http, server, sock, token, args.allowed_host)  # uvicorn stops on SIGINT/SIGTERM itself
    return EXIT_OK


async def _until_signalled(serving: Any) -> None:
    """Run ``serving`` until it ends (stdin EOF) or SIGINT/SIGTERM/SIGHUP arrives: either way the
    server's lifespan closes the session manager, killing every session."""
    import anyio

    async with anyio.create_task_group() as tg:

        async def watch_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
                async for sig in signals:
                    logging.getLogger("streamshell").info("stopping on %s", signal.Signals(sig).name)
                    tg.cancel_scope.cancel()
                    return

        tg.start_soon(watch_signals)
        await serving
        tg.cancel_scope.cancel()
