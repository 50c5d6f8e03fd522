"""What kills sessions, for one or more managers of this process: the containment and the watchdog.

A :class:`~streamshell.SessionManager` makes its own supervisor. An owner of several
managers (the MCP server gives each client one) can share one, so that however many
clients there are, the process has one cgroup (or marker) for its sessions and one
watchdog helper. Managers attach when made and detach when closed; the last one to
detach closes the supervisor (its watchdog helper exits, its cgroup is removed), and the
next one to attach opens it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Mapping

from .containment import Cell, Containment, Unavailable, open_containment
from .environment import session_environments
from .options import ManagerOptions, Rejected
from .watchdog import Watchdog

log = logging.getLogger(__name__)


class Supervisor:
    """The kill mechanism (:mod:`.containment`) and the watchdog that covers the same processes.

    ``options`` gives the mechanism (``containment``), the kill grace and whether there is a
    watchdog; ``env`` is the environment the watchdog helper runs with (default: the one
    ``options`` give sessions, so it holds nothing the sessions may not see). Opened by the
    first manager that attaches: ``ValueError`` there when the mechanism asked for cannot be
    used here.
    """

    def __init__(self, options: ManagerOptions, env: Mapping[str, str] | None = None) -> None:
        self.options = options
        if env is None:
            env = session_environments(os.environ, options.drop_env_containing, options.env or {})[False]
        self._env = dict(env)
        self._attached = 0
        self._containment: Containment | None = None
        self._watchdog: Watchdog | None = None

    def __repr__(self) -> str:
        return f"<Supervisor {self._containment!r} managers={self._attached} watchdog={self._watchdog!r}>"

    @property
    def mechanism(self) -> str:
        """The kill mechanism in force: ``cgroup``, ``subreaper`` or ``process-group``."""
        return self._opened().name

    def _open(self) -> Containment:
        try:
            self._containment = open_containment(self.options.containment)
        except Unavailable as e:
            raise Rejected(f"containment = {self.options.containment!r} cannot be used here: {e}") from None
        if self.options.watchdog:
            standing = self._containment.watchdog_lines()
            self._watchdog = Watchdog(self.options.kill_grace, self._env, standing)
        return self._containment

    def _opened(self) -> Containment:
        return self._containment if self._containment is not None else self._open()

    def attach(self) -> None:
        """A manager (or an owner that wants the supervisor open, like the server) uses this
        supervisor from now on; the first opens it (``ValueError`` if the mechanism cannot be used)."""
        self._opened()
        self._attached += 1

    async def detach(self) -> None:
        """A manager closed (its sessions are dead); the last one closes the supervisor."""
        self._attached -= 1
        if self._attached > 0:
            return
        containment, self._containment = self._containment, None
        watchdog, self._watchdog = self._watchdog, None
        if containment is not None:
            containment.close()
        if watchdog is not None:
            await watchdog.aclose()

    def cell(self) -> Cell:
        """A new session's cell."""
        return self._opened().cell()

    def own(self, pgid: int) -> None:
        """A new session's process group: the watchdog kills it if this process dies."""
        if self._watchdog is not None:
            self._watchdog.register(pgid)

    def disown(self, pgid: int) -> None:
        if self._watchdog is not None:
            self._watchdog.unregister(pgid)


def kill_now(sessions: Mapping[int, Cell]) -> None:
    """SIGKILL sessions' groups and cells at once, without the loop: a manager that was never
    closed, at interpreter exit or garbage collection."""
    for pgid, cell in list(sessions.items()):
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            cell.kill()
