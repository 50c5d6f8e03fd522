"""What the page and ``streamshell attach`` receive: sessions, and a watched session's events, as JSON.

A session (``GET /ui/api/sessions``, and the ``sessions`` events of ``/ui/api/events``)::

    {"key": "1:3", "table": "1", "session_id": 3, "command": "npm test", "state": "waiting",
     "live": true, "tty": true, "pid": 4242, "exit_code": null, "waiting_for_input": true,
     "started_at": 1796051974.36, "last_used_at": 1796051980.1, "node": null, "cast": "2026...cast"}

``state`` is ``running``, ``waiting`` (for input), ``exited`` (still in its table: its exit not
yet reported to a call), ``ended`` (left its table) or ``lost`` (its cluster node left). ``cast``
is the cast's file name, when it is recorded.

A watched session (``GET /ui/api/sessions/LABEL/ID/stream``, server-sent events): ``screen``
``{"rows", "cols", "text"}`` (the screen now, as escape sequences: first, and again after a
reader fell behind), ``output`` ``{"text"}``, ``resize`` ``{"rows", "cols"}``, ``exit``
``{"code"}``, then ``end`` ``{}`` when the session is closed; ``failure`` ``{"message"}`` when it
cannot be watched (not ``error``: a browser's ``EventSource`` uses that name for its own).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .._engine.watch import OutputText, Resized, ScreenShot, SessionExit, WatchEvent
from .directory import Listed

EVENT_NAMES = {ScreenShot: "screen", OutputText: "output", Resized: "resize", SessionExit: "exit"}
"""The server-sent event name of each watch event."""


def state(listed: Listed) -> str:
    info = listed.info
    if info.lost:
        return "lost"
    if not listed.live:
        return "ended"
    if info.exit_code is not None:
        return "exited"
    return "waiting" if info.waiting_for_input else "running"


def session_view(listed: Listed) -> dict[str, Any]:
    info = listed.info
    return {
        "key": listed.key,
        "table": listed.table,
        "session_id": info.session_id,
        "command": info.command,
        "state": state(listed),
        "live": listed.live,
        "tty": info.tty,
        "pid": info.pid,
        "exit_code": info.exit_code,
        "waiting_for_input": info.waiting_for_input,
        "started_at": info.started_at,
        "last_used_at": info.last_used_at,
        "node": info.node,
        "cast": os.path.basename(info.cast) if info.cast else None,
    }


def watch_event(event: WatchEvent) -> dict[str, str]:
    """One watch event as sse-starlette sends it: its name and its JSON data."""
    match event:
        case ScreenShot(rows, cols, text):
            data: dict[str, Any] = {"rows": rows, "cols": cols, "text": text}
        case OutputText(text):
            data = {"text": text}
        case Resized(rows, cols):
            data = {"rows": rows, "cols": cols}
        case SessionExit(code):
            data = {"code": code}
    return {"event": EVENT_NAMES[type(event)], "data": json.dumps(data, ensure_ascii=False)}


def message(name: str, **data: Any) -> dict[str, str]:
    """Another server-sent event (``end``, ``failure``)."""
    return {"event": name, "data": json.dumps(data, ensure_ascii=False)}
