"""The page at ``/ui`` and its API: the server's sessions, live and recorded, for people to watch.

``GET /ui`` is the page (:mod:`streamshell.ui` ``static/``, with xterm.js and asciinema-player
vendored beside it in ``vendor/``: nothing comes from elsewhere at run time). It logs in
(:mod:`.auth`), lists the sessions of every session manager the server made
(:mod:`.directory`) as they change, shows a live one in xterm.js fed from
``/ui/api/sessions/LABEL/ID/stream`` (server-sent events, :mod:`.wire`), and replays an ended
one from its cast with asciinema-player. It is read-only unless the server was started with
``--ui-input``: then what a person types goes to the session by the input path of
``write_stdin`` (recorded in the cast as input) and a button kills the session.

Routes (every one behind the MCP endpoint's Host and Origin checks; the ``api`` ones need a
login or the bearer token):

==========================================  ===================================================
``GET /ui``                                 the page
``POST /ui/login`` ``{"token"}``            sets the login cookie; ``/ui/logout`` clears it
``GET /ui/api/me``                          ``{"input": bool, "version", "tables"}``
``GET /ui/api/sessions``                    the sessions (:func:`.wire.session_view`)
``GET /ui/api/find/KEY``                    the session ``LABEL:ID`` (or ``ID``) names
``GET /ui/api/events``                      ``sessions`` events whenever the list changes
``GET /ui/api/sessions/LABEL/ID/stream``    a live session's events
``GET /ui/api/sessions/LABEL/ID/cast``      its cast (``application/x-asciicast``)
``POST /ui/api/sessions/LABEL/ID/input``    ``{"data"}``: type into it (``--ui-input``)
``POST /ui/api/sessions/LABEL/ID/kill``     kill it (``--ui-input``)
==========================================  ===================================================
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any

from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from .._version import __version__
from ..errors import StreamshellError
from .auth import Gate
from .directory import Listed, SessionDirectory, UnknownKey
from .wire import message, session_view, watch_event

LIST_EVERY = 1.0
"""Seconds between two looks at the session list for a page (sent only when it changed)."""

MAX_BODY = 1 << 20
"""Bytes a request body may have."""

MAX_INPUT = 64 << 10
"""Characters one input request may type."""

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
"""The page may load only its own files and talk only to its own server, and never in a frame
(asciinema-player compiles its terminal emulator from WebAssembly: ``wasm-unsafe-eval``)."""

INPUT_DISABLED = "input is disabled: start the server with --ui-input to type into sessions"

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def _files(name: str) -> str:
    """A directory of the package's data: ``static`` (the page) or ``vendor`` (xterm.js, asciinema-player)."""
    return str(resources.files("streamshell.ui") / name)


def _error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"error": text}, status_code=status)


def build_ui(
    directory: SessionDirectory, token: str, security: TransportSecuritySettings, *, input_enabled: bool
) -> ASGIApp:
    """The ``/ui`` application: ``directory``'s sessions, behind ``token`` and the MCP ``security``
    checks; people may type into sessions and kill them only with ``input_enabled``."""
    gate = Gate(token, security)

    def checked(handler: Handler, *, post: bool = False, login: bool = True) -> Handler:
        async def guarded(request: Request) -> Response:
            refused = await gate.refused(request, post=post)
            if refused is not None:
                return refused
            if login and not gate.allowed(request):
                return _error(401, "log in first: the server's token is needed")
            return await handler(request)

        return guarded

    async def page(request: Request) -> Response:
        if request.url.path == "/ui":
            return RedirectResponse("/ui/", status_code=308)
        return FileResponse(os.path.join(_files("static"), "index.html"), headers=PAGE_HEADERS)

    async def login(request: Request) -> Response:
        body = await _json(request)
        given = body.get("token") if isinstance(body, dict) else None
        if not isinstance(given, str):
            return _error(400, 'send {"token": "..."}')
        login_id = gate.login(given)
        if login_id is None:
            log.warning("a wrong token was given to /ui/login (from %s)", _client(request))
            return _error(401, "wrong token")
        log.info("a page logged in (from %s)", _client(request))
        response = JSONResponse({"input": input_enabled})
        gate.set_cookie(response, login_id, secure=request.url.scheme == "https")
        return response

    async def logout(request: Request) -> Response:
        gate.logout(request)
        response = JSONResponse({})
        gate.clear_cookie(response)
        return response

    async def me(request: Request) -> Response:
        return JSONResponse({"input": input_enabled, "version": __version__, "tables": directory.tables})

    async def sessions(request: Request) -> Response:
        return JSONResponse([session_view(listed) for listed in await directory.sessions()])

    async def find(request: Request) -> Response:
        try:
            return JSONResponse(session_view(await directory.find(request.path_params["key"])))
        except UnknownKey as e:
            return _error(404, str(e))

    async def events(request: Request) -> Response:
        return EventSourceResponse(_list_events(directory), headers={"Cache-Control": "no-store"})

    async def stream(request: Request) -> Response:
        return EventSourceResponse(
            _watch_events(directory, _key(request)), headers={"Cache-Control": "no-store"}
        )

    async def cast(request: Request) -> Response:
        try:
            listed = await directory.find(_key(request))
        except UnknownKey as e:
            return _error(404, str(e))
        path = listed.info.cast
        if path is None or not os.path.isfile(path):
            where = f" (it stays on node {listed.info.node})" if listed.info.node else ""
            return _error(404, f"session {listed.key} has no cast here{where}")
        return FileResponse(path, media_type="application/x-asciicast", headers={"Cache-Control": "no-store"})

    async def type_into(request: Request) -> Response:
        if not input_enabled:
            return _error(403, INPUT_DISABLED)
        body = await _json(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, str) or len(data) > MAX_INPUT:
            return _error(400, f'send {{"data": "..."}}, at most {MAX_INPUT} characters')
        return await _on_live(directory, _key(request), lambda m, sid: m.send_input(sid, data))

    async def kill(request: Request) -> Response:
        if not input_enabled:
            return _error(403, INPUT_DISABLED)

        async def killed(manager: Any, session_id: int) -> dict[str, Any]:
            out = await manager.kill_session(session_id)
            log.info("session %s killed from the page", session_id)
            return {"exit_code": getattr(out.exit_status, "code", None)}

        return await _on_live(directory, _key(request), killed)

    session = "/ui/api/sessions/{table}/{session_id:int}"
    routes = [
        Route("/ui", checked(page, login=False)),
        Route("/ui/", checked(page, login=False)),
        Route("/ui/login", checked(login, post=True, login=False), methods=["POST"]),
        Route("/ui/logout", checked(logout, post=True, login=False), methods=["POST"]),
        Route("/ui/api/me", checked(me)),
        Route("/ui/api/sessions", checked(sessions)),
        Route("/ui/api/find/{key}", checked(find)),
        Route("/ui/api/events", checked(events)),
        Route(f"{session}/stream", checked(stream)),
        Route(f"{session}/cast", checked(cast)),
        Route(f"{session}/input", checked(type_into, post=True), methods=["POST"]),
        Route(f"{session}/kill", checked(kill, post=True), methods=["POST"]),
        Mount("/ui/static", StaticFiles(directory=_files("static")), name="static"),
        Mount("/ui/vendor", StaticFiles(directory=_files("vendor")), name="vendor"),
    ]
    app = Starlette(routes=routes)
    return _HostChecked(RequestBodyLimitMiddleware(app, MAX_BODY), gate)


class _HostChecked:
    """The static files too answer only requests that pass the Host and Origin checks."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self._app = app
        self._gate = gate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/ui/static/", "/ui/vendor/")):
            refused = await self._gate.refused(Request(scope, receive))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self._app(scope, receive, send)


def _key(request: Request) -> str:
    return f"{request.path_params['table']}:{request.path_params['session_id']}"


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


async def _on_live(
    directory: SessionDirectory, key: str, act: Callable[[Any, int], Awaitable[Any]]
) -> Response:
    """Do ``act(manager, session_id)`` on a live session; its errors as the model would read them."""
    try:
        listed = await directory.find(key)
        if not listed.live:
            return _error(409, f"session {key} has ended")
        result = await act(directory.manager(listed.table), listed.info.session_id)
    except UnknownKey as e:
        return _error(404, str(e))
    except StreamshellError as e:
        return _error(409, str(e))
    return JSONResponse(result or {})


async def _list_events(directory: SessionDirectory) -> AsyncIterator[dict[str, str]]:
    """The session list now, then again whenever it changes (looked at every :data:`LIST_EVERY` s)."""
    last = None
    while True:
        views = [session_view(listed) for listed in await directory.sessions()]
        if views != last:
            yield {"event": "sessions", "data": json.dumps(views, ensure_ascii=False)}
            last = views
        await asyncio.sleep(LIST_EVERY)


async def _watch_events(directory: SessionDirectory, key: str) -> AsyncIterator[dict[str, str]]:
    """A session's screen, then its events until it is closed, then ``end``."""
    watch = None
    try:
        listed: Listed = await directory.find(key)
        if not listed.live:
            raise UnknownKey(f"session {key} has ended: replay its cast")
        watch = directory.manager(listed.table).watch(listed.info.session_id)
        async for event in watch:
            yield watch_event(event)
    except (UnknownKey, StreamshellError) as e:  # unknown, gone, or (a cluster's) lost on the way
        yield message("failure", message=str(e))
    finally:
        if watch is not None:
            await watch.aclose()
    yield message("end")
