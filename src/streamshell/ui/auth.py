"""Who may use the page: the server's bearer token, entered once, then a cookie; the MCP checks.

- A person types the token into the page once (``POST /ui/login``, in a JSON body: never in a
  URL). The answer sets a cookie holding a random login id (not the token), ``HttpOnly`` (the
  page's scripts cannot read it), ``SameSite=Strict`` (no other site's page can send it) and
  scoped to ``/ui``. The server keeps the :data:`MAX_LOGINS` newest login ids, in memory: a
  restart logs everyone out. ``POST /ui/logout`` forgets one.
- A program (``streamshell attach``) sends ``Authorization: Bearer TOKEN`` instead.
- Every request first passes the MCP endpoint's own Host and Origin checks (the SDK's
  ``TransportSecurityMiddleware`` with the same settings: DNS-rebinding protection), and a
  POST must be JSON. Nothing here logs the token or a login id.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections import OrderedDict

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "streamshell_ui"
MAX_LOGINS = 256
"""Login ids kept; the oldest is forgotten (its page must log in again)."""

log = logging.getLogger(__name__)


class Gate:
    """Checks requests to the page against ``token`` and the MCP endpoint's ``security`` settings."""

    def __init__(self, token: str, security: TransportSecuritySettings) -> None:
        self._bearer = f"Bearer {token}".encode()
        self._token = token.encode()
        self._checks = TransportSecurityMiddleware(security)
        self._logins: OrderedDict[str, None] = OrderedDict()

    def __repr__(self) -> str:
        return f"<Gate logins={len(self._logins)}>"

    async def refused(self, request: Request, *, post: bool = False) -> Response | None:
        """The MCP endpoint's Host and Origin checks (and JSON for a POST): a response refusing the
        request, or None."""
        return await self._checks.validate_request(request, is_post=post)

    def allowed(self, request: Request) -> bool:
        """A logged-in page (its cookie) or a program with the bearer token."""
        given = request.headers.get("authorization", "").encode()
        if given and hmac.compare_digest(given, self._bearer):
            return True
        login = request.cookies.get(COOKIE)
        return login is not None and login in self._logins

    def login(self, token: str) -> str | None:
        """A new login id for the right ``token``; None for a wrong one."""
        if not hmac.compare_digest(token.encode(), self._token):
            return None
        login = secrets.token_urlsafe(32)
        self._logins[login] = None
        while len(self._logins) > MAX_LOGINS:
            self._logins.popitem(last=False)
        return login

    def logout(self, request: Request) -> None:
        login = request.cookies.get(COOKIE)
        if login is not None:
            self._logins.pop(login, None)

    @staticmethod
    def set_cookie(response: Response, login: str, *, secure: bool) -> None:
        response.set_cookie(COOKIE, login, path="/ui", httponly=True, samesite="strict", secure=secure)

    @staticmethod
    def clear_cookie(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
