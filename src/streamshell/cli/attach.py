"""``streamshell attach ID``: a session of a running server, live in this terminal.

It talks to the server's HTTP endpoint (``--url``, default ``http://127.0.0.1:8765``) with the
token from ``STREAMSHELL_TOKEN``, through the page's API (:mod:`streamshell.ui.client`): first
the session's screen as it is now, then its output as it comes, written to this terminal in
raw mode (so the session's escape sequences draw as they would on its own terminal). ``Ctrl-]``
detaches. Typing reaches the session only with ``--input`` (and a server started with
``--ui-input``); then every key goes to it, ``Ctrl-C`` included, as write_stdin's input does.
The terminal's mode is restored however it ends.

Exit codes: 0 detached or the session ended; 2 bad usage (no token); 3 the server could not be
reached, refused, or has no such session.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .flags import EXIT_OK, EXIT_RUNTIME, EXIT_USAGE
from .serve import DEFAULT_PORT, TOKEN_ENV

if TYPE_CHECKING:
    from ..ui.client import UiClient

DETACH = b"\x1d"
"""Ctrl-]: telnet's escape key, which no shell or editor binds."""

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


def add_attach_flags(p: argparse.ArgumentParser) -> None:
    """``attach``'s arguments."""
    p.add_argument("id", metavar="ID", help="the session: its id, or LABEL:ID")
    p.add_argument("--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})")
    p.add_argument(
        "--input",
        action="store_true",
        help="send what is typed to the session (the server must run with --ui-input); default: watch only",
    )


def attach(args: argparse.Namespace) -> int:
    """Show a session of a running server live in this terminal (Ctrl-] detaches).

    Show session ID of the server at --url live in this terminal: its current screen, then its
    output as it comes. Ctrl-] detaches. Needs the server's token in ${token_env}. ID is the
    session id, or LABEL:ID when several clients have sessions (the page at /ui shows both).
    """
    token = os.environ.get(TOKEN_ENV)
    if not token:
        print(
            f"streamshell attach: set {TOKEN_ENV} to the server's token (streamshell serve --http prints it)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return asyncio.run(_attach(args.url, token, args.id, typing=args.input))


async def _attach(url: str, token: str, key: str, *, typing: bool) -> int:
    from ..ui.client import UiClient, UiError  # the HTTP client loads only for this command

    async with UiClient(url, token) as client:
        try:
            me = await client.me()
            if typing and not me["input"]:
                raise UiError("the server takes no input from watchers: start it with --ui-input")
            session = await client.find(key)
            label = session["key"] if me["tables"] > 1 else str(session["session_id"])
            if not session["live"]:
                cast = f"; its cast: {session['cast']}" if session["cast"] else ""
                code = session["exit_code"]
                ended = "has ended" if code is None else f"has ended with code {code}"
                raise UiError(f"session {label} {ended}{cast}")
            return await _Attached(client, session, label, typing=typing).run()
        except UiError as e:
            print(f"streamshell attach: {e}", file=sys.stderr)
            return EXIT_RUNTIME


class _Attached:
    """One attach: the session's events to this terminal, this terminal's keys to the session."""

    def __init__(self, client: UiClient, session: dict[str, Any], label: str, *, typing: bool) -> None:
        self._client = client
        self._session = session
        self._label = label
        self._typing = typing
        self._out = sys.stdout.fileno()
        self._in = sys.stdin.fileno()
        self._detached: asyncio.Future[None] | None = None
        self._typed = ""
        self._sending: asyncio.Task[None] | None = None
        self._problem: str | None = None

    def __repr__(self) -> str:
        return f"<attach session={self._label} typing={self._typing}>"

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        self._detached = loop.create_future()
        mode = "typing goes to the session" if self._typing else "read-only"
        about = f"session {self._label}: {self._session['command']}"
        self._write(f"[attached to {about}; {mode}; Ctrl-] detaches]\r\n")
        interactive = os.isatty(self._in)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._detach)
        with _raw(self._in) if interactive else contextlib.nullcontext():
            if interactive:
                loop.add_reader(self._in, self._on_keys)
            watching = asyncio.ensure_future(self._watch())
            try:
                await asyncio.wait([watching, self._detached], return_when=asyncio.FIRST_COMPLETED)
            finally:
                if interactive:
                    loop.remove_reader(self._in)
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            if watching.done() and not watching.cancelled() and watching.exception() is not None:
                self._write(f"\r\n[streamshell attach: {watching.exception()}]\r\n")
                return EXIT_RUNTIME
        if self._problem is not None:
            self._write(f"[streamshell attach: {self._problem}]\r\n")
        return EXIT_OK

    async def _watch(self) -> None:
        key = self._label
        async for name, data in self._client.events(self._session):
            if name in ("screen", "output"):
                self._write(data["text"])
            elif name == "exit":  # its output is complete: nothing more to show
                self._write(f"\r\n[session {key} exited with code {data['code']}]\r\n")
                return
            elif name == "failure":
                raise RuntimeError(data["message"])
            elif name == "end":
                self._write(f"[session {key} is closed]\r\n")
                return

    def _on_keys(self) -> None:
        try:
            data = os.read(self._in, 4096)
        except OSError:
            data = b""
        if not data:  # this terminal hung up
            self._detach()
            return
        before, detach, _ = data.partition(DETACH)
        if self._typing and before:
            self._typed += before.decode("utf-8", "replace")
            if self._sending is None or self._sending.done():
                self._sending = asyncio.ensure_future(self._send())
        if detach:
            self._write(f"\r\n[detached from session {self._label}]\r\n")
            self._detach()

    async def _send(self) -> None:
        """What was typed, in order, one request at a time (keys typed meanwhile go in the next)."""
        while self._typed:
            data, self._typed = self._typed, ""
            try:
                await self._client.send_input(self._session, data)
            except Exception as e:  # UiError: refused, or the connection broke
                self._problem = f"input not sent: {e}"
                self._detach()
                return

    def _detach(self) -> None:
        if self._detached is not None and not self._detached.done():
            self._detached.set_result(None)

    def _write(self, text: str) -> None:
        data = text.encode()
        while data:
            written = os.write(self._out, data)
            data = data[written:]


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """The terminal in raw mode (keys as they are typed, no echo, no signals) while the block runs."""
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
