"""Talking to a server's ``/ui`` API from a program (``streamshell attach``), with the bearer token.

It uses the HTTP client the MCP SDK itself depends on (``httpx2``), and its server-sent events
reader. Errors are :class:`UiError`, whose text says what went wrong and what to do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx2

MAX_EVENT = 16 << 20
"""Bytes one server-sent event may have (a screen, or output coalesced for a slow reader)."""


class UiError(Exception):
    """The server could not be reached or refused; ``str()`` is for the person."""


class UiClient:
    """The ``/ui`` API of the server at ``url`` (``http://HOST:PORT``), as the holder of ``token``."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx2.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx2.Timeout(30.0, read=None),  # a watched session may stay quiet for hours
        )

    def __repr__(self) -> str:
        return f"<UiClient {self.url}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def me(self) -> dict[str, Any]:
        """``{"input": bool, "version", "tables"}``: also checks the URL and the token."""
        answer: dict[str, Any] = await self._json("GET", "/ui/api/me")
        return answer

    async def find(self, key: str) -> dict[str, Any]:
        """The session ``key`` names (``LABEL:ID``, or ``ID`` alone), as :func:`.wire.session_view`
        shows it."""
        found: dict[str, Any] = await self._json("GET", f"/ui/api/find/{quote(key, safe='')}")
        return found

    async def events(self, session: dict[str, Any]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A live session's events (:mod:`.wire`), ``(name, data)``, until ``end``."""
        try:
            async with self._http.stream("GET", f"{_path(session)}/stream") as response:
                await self._check(response)
                async for event in httpx2.EventSource(response, max_event_size=MAX_EVENT):
                    data = json.loads(event.data) if event.data else {}
                    yield event.event, data
                    if event.event == "end":
                        return
        except httpx2.TransportError as e:
            raise UiError(f"the connection to {self.url} broke: {e}") from None
        raise UiError(f"{self.url} ended the stream of session {session['key']} without saying why")

    async def send_input(self, session: dict[str, Any], data: str) -> None:
        """Type ``data`` into the session (the server must run with ``--ui-input``)."""
        await self._json("POST", f"{_path(session)}/input", {"data": data})

    async def _json(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx2.TransportError as e:
            raise UiError(
                f"no streamshell server answers at {self.url} ({e}): start one with "
                "`streamshell serve --http`, or give its address with --url"
            ) from None
        await self._check(response)
        return response.json()

    async def _check(self, response: httpx2.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        try:
            said = response.json().get("error") or response.text
        except ValueError:
            said = response.text.strip()
        if response.status_code == 401:
            raise UiError(f"{self.url} refused the token: set STREAMSHELL_TOKEN to the server's token")
        if response.status_code == 404 and not said:
            raise UiError(f"{self.url} serves no page at /ui (it runs with --no-ui, or is not streamshell)")
        raise UiError(f"{said} ({response.status_code})")


def _path(session: dict[str, Any]) -> str:
    return f"/ui/api/sessions/{quote(str(session['table']), safe='')}/{session['session_id']}"
