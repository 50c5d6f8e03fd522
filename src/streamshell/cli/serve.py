"""``streamshell serve``: the MCP server, over stdio or Streamable HTTP."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import resource
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._version import __version__
from .flags import EXIT_OK, EXIT_RUNTIME, UsageError, manager_options

if TYPE_CHECKING:
    from .._engine.options import ManagerOptions
    from ..tools.backend import SessionBackend

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8765
TOKEN_ENV = "STREAMSHELL_TOKEN"

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


def _mcp_requirement() -> str:
    """The ``mcp`` requirement streamshell was installed with (its metadata says it once)."""
    from importlib import metadata

    try:
        requirements = metadata.requires("streamshell") or []
    except metadata.PackageNotFoundError:
        requirements = []
    found = [r.split(";")[0].strip() for r in requirements if r.split(">")[0].split("<")[0].strip() == "mcp"]
    return found[0] if found else "mcp"


def serve(args: argparse.Namespace) -> int:
    """``streamshell serve``: the MCP server over stdio, or over HTTP with ``--http``."""
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
        from ..mcp.server import build_server
    except ImportError as e:
        requirement = _mcp_requirement()
        print(
            f"streamshell: the MCP server needs the Python package {requirement!r}, which cannot be "
            f"imported ({e}): pip install '{requirement}'",
            file=sys.stderr,
        )
        return EXIT_RUNTIME

    options = manager_options(args)
    if args.schema == "reference":
        # The reference's schema comes with the reference's texts: no header line it never had
        # (clients still get each exit as an MCP notification).
        options = dataclasses.replace(options, exit_notices=False)
    factory = _backend_factory(args.ray, options)
    if factory is None:
        return EXIT_RUNTIME
    server = build_server(
        factory, tools=args.tools, extended=args.schema == "extended", profile=options.profile
    )
    import anyio

    if sock is None:
        from ..mcp.stdio import serve_stdio

        anyio.run(_until_signalled, serve_stdio(server))
        return EXIT_OK
    from ..mcp.http import serve_http

    token = token or secrets.token_urlsafe(32)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(connection_help(f"http://{shown}:{port}/mcp", token), flush=True)
    anyio.run(serve_http, server, sock, token, args.allowed_host)  # uvicorn stops on SIGINT/SIGTERM itself
    return EXIT_OK


def _backend_factory(ray_address: str | None, options: ManagerOptions) -> Callable[[], SessionBackend] | None:
    """What makes the server's session manager: a local one, or one on the Ray cluster at
    ``ray_address`` (connected now, so a bad address fails before serving); None after saying
    why it cannot be made. Options a cluster cannot serve are a :class:`UsageError`."""
    if ray_address is None:

        def local() -> SessionBackend:
            from .._engine.manager import SessionManager  # after the server is up: not on the start-up path

            return SessionManager(options)

        return local
    try:
        from ..cluster.manager import RaySessionManager, connect, unsupported
    except ImportError as e:
        print(f"streamshell: --ray needs Ray ({e}): pip install 'streamshell[ray]'", file=sys.stderr)
        return None
    problem = unsupported(options)
    if problem is not None:
        raise UsageError(f"--ray: {problem}")
    try:
        connect(ray_address)
    except (ConnectionError, RuntimeError, ValueError) as e:
        print(f"streamshell: cannot connect to the Ray cluster at {ray_address}: {e}", file=sys.stderr)
        return None
    logging.getLogger("streamshell").info("sessions run on the Ray cluster at %s", ray_address)
    return lambda: RaySessionManager(options, address=ray_address)


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
