"""``streamshell serve``: the MCP server, over stdio or Streamable HTTP.

The server keeps its secrets from its sessions: its token is taken out of the environment
before the sessions' environment is made, and the process is made non-dumpable
(``PR_SET_DUMPABLE`` 0), so its ``/proc/PID/environ`` and memory are root's only. A server
that runs as root gains nothing from that: its sessions are root too.
"""

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
from .flags import EXIT_OK, EXIT_RUNTIME, UsageError, manager_options, non_negative_seconds, positive_whole

log = logging.getLogger("streamshell")

if TYPE_CHECKING:
    from .._engine.options import ManagerOptions
    from .._engine.supervisor import Supervisor
    from .._engine.transcripts import TranscriptStore
    from ..mcp.http import UiFactory
    from ..tools.backend import SessionBackend

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8765
TOKEN_ENV = "STREAMSHELL_TOKEN"

MAX_OPEN_FILES = 1 << 20
"""The soft limit asked for when the hard one is unlimited (macOS refuses "unlimited")."""

PR_SET_DUMPABLE = 4
"""``prctl`` option (``<linux/prctl.h>``)."""

DEFAULT_MAX_CLIENTS = 32
DEFAULT_IDLE_TIMEOUT = 1800.0
DEFAULT_HEADER_TIMEOUT = 10.0


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    """The flags about clients: their session tables, and the HTTP caps."""
    parser.add_argument(
        "--shared-sessions",
        action="store_true",
        help="one session table for every client (one user's several clients); default: each MCP "
        "client (HTTP Mcp-Session-Id, stdio connection) has its own sessions and ids",
    )
    parser.add_argument(
        "--max-clients",
        type=positive_whole,
        default=DEFAULT_MAX_CLIENTS,
        metavar="N",
        help=f"HTTP: MCP sessions open at once; another initialize gets 503 (default {DEFAULT_MAX_CLIENTS})",
    )
    parser.add_argument(
        "--idle-timeout",
        type=non_negative_seconds,
        default=DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="HTTP: end an MCP session, killing its client's sessions, after this long without a "
        f"request in flight; 0 never (default {DEFAULT_IDLE_TIMEOUT:.0f})",
    )
    parser.add_argument(
        "--header-timeout",
        type=non_negative_seconds,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help="HTTP: close a connection that has not sent a whole request head this long after it "
        f"opened or after its last response (default {DEFAULT_HEADER_TIMEOUT:.0f})",
    )


def _keep_this_process_private() -> None:
    """Make this process non-dumpable: its /proc/PID/environ, mem and maps become root's, so a
    session (the same user) cannot read the server's token or the variables it filtered out.
    Linux only; elsewhere nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning("could not make the server non-dumpable: %s", os.strerror(ctypes.get_errno()))


def _raise_open_files_limit() -> int | None:
    """Each session holds 2-3 fds: lift the soft limit to the hard one (often 1024 -> much more).
    Returns the soft limit it had, for the sessions (their programs get what they would have
    got without streamshell), or None when it did not change.

    Best effort: a system that refuses keeps its limit, and a session that runs out of fds
    gets a clear spawn error."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return soft
    return None


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


def connection_help(url: str, token: str, *, page: str | None = None) -> str:
    """What ``make run`` prints: the URL and token, and how to add the server to common clients
    (and where the page is, when it is served)."""
    command, *rest = _command_line()
    toml_args = ", ".join(json.dumps(a) for a in rest)
    desktop = {"mcpServers": {"streamshell": {"command": command, "args": rest}}}
    watch = (
        f"\nWatch the sessions: {page} (log in with the token), or `streamshell attach ID`\n" if page else ""
    )
    return f"""\
streamshell {__version__}: MCP over Streamable HTTP at {url}
token: {token}   (every request needs "Authorization: Bearer <token>"; set ${TOKEN_ENV} to choose it)
{watch}
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
    """Run the MCP server (stdio by default).

    Serve {mcp_tools} over MCP: on stdin/stdout (default), or as Streamable HTTP at
    http://HOST:PORT/mcp with --http. Over HTTP every request needs 'Authorization: Bearer TOKEN';
    TOKEN comes from ${token_env}, or is generated and printed. Each client has its own sessions
    (--shared-sessions: one table for all); a client's sessions are killed when it leaves, and all of
    them when the server stops. Over HTTP the page at http://HOST:PORT/ui shows every client's
    sessions live (log in with TOKEN; --no-ui: no page).
    """
    token = os.environ.pop(TOKEN_ENV, None) or None  # never passed on, whatever the filter says
    if args.ui_input and not (args.http and args.ui):
        raise UsageError("--ui-input needs the page: serve with --http (and without --no-ui)")
    if args.http and args.host not in LOOPBACK_HOSTS and not token:
        raise UsageError(
            f"refusing to serve on non-loopback host {args.host} with a generated token: "
            f"set {TOKEN_ENV} to the token clients must send"
        )
    started_with = _raise_open_files_limit()
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

    _keep_this_process_private()
    options = dataclasses.replace(
        manager_options(args), open_files_limit=started_with, cwd=args.cwd or _working_directory()
    )
    if args.schema == "reference":
        # The reference's schema comes with the reference's texts: no header line it never had
        # (clients still get each exit as an MCP notification).
        options = dataclasses.replace(options, exit_notices=False)
    transcripts = None  # a cluster's nodes record
    if args.ray is None:
        transcripts = _transcripts(options)
        if transcripts is None:  # nothing to record into: the managers must not try on their own
            options = dataclasses.replace(options, transcript_dir=None)
    factory = _backend_factory(args.ray, options, transcripts)
    if factory is None:
        return EXIT_RUNTIME
    token = token or secrets.token_urlsafe(32)
    ui = None
    if args.http and args.ui:
        factory, ui = _ui(factory, token, input_enabled=args.ui_input)
    server = build_server(
        factory,
        tools=args.tools,
        extended=args.schema == "extended",
        profile=options.profile,
        shared_sessions=args.shared_sessions,
    )
    print(f"streamshell: {options.confinement()}", file=sys.stderr)  # once serving is sure to start
    import anyio

    if sock is None:
        from ..mcp.stdio import serve_stdio

        anyio.run(_closing, transcripts, _until_signalled(serve_stdio(server)))
        return EXIT_OK
    from ..mcp.http import UI_PATH, serve_http

    host, port = sock.getsockname()[:2]
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    page = f"{base}{UI_PATH}" if ui is not None else None
    print(connection_help(f"{base}/mcp", token, page=page), flush=True)
    serving = serve_http(
        server,
        sock,
        token,
        args.allowed_host,
        max_clients=args.max_clients,
        idle_timeout=args.idle_timeout or None,
        header_timeout=args.header_timeout,
        ui=ui,
    )
    anyio.run(_closing, transcripts, serving)  # uvicorn stops on SIGINT/SIGTERM itself
    return EXIT_OK


def _working_directory() -> str | None:
    """Taken once, at start: every client's sessions run there, even if it is deleted later."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def _transcripts(options: ManagerOptions) -> TranscriptStore | None:
    """The one store every client's session manager records into (its directory created now, so
    a bad one is refused before serving). The default location that cannot be made (a service
    user without a writable home) is not the person's mistake: a warning, and nothing recorded."""
    if options.transcript_dir is None:
        return None
    from .._engine.options import default_transcript_dir
    from .._engine.transcripts import TranscriptStore

    try:
        return TranscriptStore(
            options.transcript_dir,
            max_cast_bytes=options.max_cast_bytes,
            max_total_bytes=options.max_transcripts_bytes,
        )
    except ValueError as e:
        if options.transcript_dir != default_transcript_dir():
            raise UsageError(f"--transcripts: {e}") from None
        log.warning("sessions are not recorded: %s (choose a directory with --transcripts DIR)", e)
        return None


def _ui(
    factory: Callable[[], SessionBackend], token: str, *, input_enabled: bool
) -> tuple[Callable[[], SessionBackend], UiFactory]:
    """The page at ``/ui`` over every session manager ``factory`` makes (the factory that adds them
    to its directory, and what makes the page)."""
    from ..ui.app import build_ui
    from ..ui.directory import SessionDirectory

    directory = SessionDirectory()
    return directory.track(factory), lambda security: build_ui(
        directory, token, security, input_enabled=input_enabled
    )


async def _closing(transcripts: TranscriptStore | None, serving: Any) -> None:
    """Serve; then wait for the last casts to be written (the managers are closed by then)."""
    try:
        await serving
    finally:
        if transcripts is not None:
            await transcripts.aclose()


class _LocalManagers:
    """Makes each client's session manager; they share one supervisor (one cgroup or marker and one
    watchdog for the whole server), made with the first and closed with the last, and record into
    one store (``transcripts``, when sessions are recorded)."""

    def __init__(self, options: ManagerOptions, transcripts: TranscriptStore | None) -> None:
        self._options = options
        self._transcripts = transcripts
        self._supervisor: Supervisor | None = None

    def __call__(self) -> SessionBackend:
        from .._engine.manager import SessionManager  # after the server is up: not on the start-up path
        from .._engine.supervisor import Supervisor

        if self._supervisor is None:
            self._supervisor = Supervisor(self._options)
        return SessionManager(self._options, supervisor=self._supervisor, transcripts=self._transcripts)


def _check_containment(options: ManagerOptions) -> None:
    """A kill mechanism asked for by name must be usable here: say so at start, not at the first
    call (``auto`` always finds one)."""
    if options.containment == "auto":
        return
    from .._engine.containment import Unavailable, open_containment

    try:
        open_containment(options.containment).close()
    except Unavailable as e:
        raise UsageError(f"--containment {options.containment} cannot be used here: {e}") from None


def _check_confinement(options: ManagerOptions) -> None:
    """The sandbox and the limits must be enforceable here: say so at start, not at the first call
    (the limits' code is imported only when limits are asked for: the first answer waits for none
    of the spawning code)."""
    from .._engine.sandbox import Sandbox, SandboxUnavailable

    try:
        Sandbox(options.policy, options.workspace())
    except SandboxUnavailable as e:
        raise UsageError(str(e)) from None
    if options.limits:
        from .._engine.limits import Limiter, LimitsUnavailable

        try:
            Limiter(options.limits).close()
        except LimitsUnavailable as e:
            raise UsageError(str(e)) from None


def _backend_factory(
    ray_address: str | None, options: ManagerOptions, transcripts: TranscriptStore | None
) -> Callable[[], SessionBackend] | None:
    """What makes the server's session manager: a local one (recording into ``transcripts``), or
    one on the Ray cluster at ``ray_address`` (connected now, so a bad address fails before
    serving); None after saying why it cannot be made. Options a cluster cannot serve are a
    :class:`UsageError`."""
    if ray_address is None:
        _check_containment(options)
        _check_confinement(options)
        return _LocalManagers(options, transcripts)
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
