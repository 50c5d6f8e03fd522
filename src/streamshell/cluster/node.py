"""The node actor: one per Ray node, holding a session manager for each client that uses the node.

It runs in a Ray worker process on its node, as an async actor: every call runs on the
worker's one event loop, where the session managers read their PTYs, as they do in a
local process (no thread per session here either). A client is known by a *name*
(its sessions) and a *client id* (the process holding the name now): a name belongs
to one client at a time (the last to attach: a restarted client takes its sessions back),
and a client keeps it by renewing a lease. A name whose lease runs out (its client
vanished) has its sessions killed; the actor exits when no name is left, so nothing of
streamshell stays on the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import ray

from .._engine.manager import SessionManager
from .._engine.options import ManagerOptions
from .._engine.watch import WatchEvent
from ..errors import StreamshellError
from ..results import ExitNotice, Ongoing
from ..tools.backlog import OutputBacklog
from .wire import FORWARDED, Attached, Reply

STREAM_BACKLOG_CHARS = 1 << 20
"""Live output a call keeps for its client while earlier chunks are still on their way."""

STREAM_IN_FLIGHT = 4
"""Chunks of live output sent but not yet taken by the client before the node coalesces."""

IDLE_EXIT = 60.0
"""Seconds an actor that no client ever attached to waits before it exits."""

MAX_TICK = 1.0
"""Longest wait between two looks at the leases."""

log = logging.getLogger(__name__)


def node_environment() -> Mapping[str, str] | None:
    """The environment this node was started with: its raylet's.

    A Ray worker's own environment carries what Ray sets for workers (``OMP_NUM_THREADS=1``,
    ``PYTHONBREAKPOINT`` pointing at Ray's debugger, job ids); sessions should see the node
    as whoever started it does. None (the worker's own, then) where it cannot be read.
    """
    pid = os.environ.get("RAY_RAYLET_PID")
    if not pid or not pid.isdigit():
        return None
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    environ = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            environ[os.fsdecode(name)] = os.fsdecode(value)
    return _without_rays_preload(environ)


RAY_PRELOAD = "/ray/core/libjemalloc.so"
"""Ray starts its raylet with its own jemalloc in ``LD_PRELOAD``: Ray's choice for its processes,
not the node's; in every session's process it would load Ray's allocator (and a sandbox that hides
the directory prints an error for each)."""


def _without_rays_preload(environ: dict[str, str]) -> dict[str, str]:
    preload = [p for p in environ.get("LD_PRELOAD", "").split(":") if p and not p.endswith(RAY_PRELOAD)]
    environ.pop("LD_PRELOAD", None)
    if preload:
        environ["LD_PRELOAD"] = ":".join(preload)
    return environ


def session_directory(options: ManagerOptions, client_cwd: str) -> ManagerOptions:
    """Where this node's sessions start: the ``cwd`` option when given, else the client's working
    directory when this node has it (always, on one machine), else the home directory."""
    if options.cwd is not None:
        return options
    cwd = client_cwd if os.path.isdir(client_cwd) else os.path.expanduser("~")
    return dataclasses.replace(options, cwd=cwd)


@dataclass(eq=False, repr=False)
class Tenant:
    """One client's sessions on this node: a session manager, and the client's lease on it.
    ``_gone`` is shared with whoever records the sessions that ended here unasked."""

    name: str
    client: str
    manager: SessionManager
    lease: float
    _gone: list[int]
    renewed: float = field(default_factory=time.monotonic)
    max_id: int = -1
    _exits: list[ExitNotice] = field(default_factory=list)
    _exited: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.manager.subscribe_exit_notices(self._exit)

    def __repr__(self) -> str:
        return f"<Tenant {self.name} client={self.client[:8]} lease={self.lease}s {self.manager!r}>"

    def renew(self, client: str) -> None:
        self.client = client
        self.renewed = time.monotonic()

    @property
    def expires(self) -> float:
        return self.renewed + self.lease

    def _exit(self, notice: ExitNotice) -> None:
        self._exits.append(notice)
        self._exited.set()

    async def exits(self, client: str, within: float) -> tuple[ExitNotice, ...]:
        """The exits nobody watched since the last time asked, as soon as there is one (or none,
        after ``within`` seconds); none for a client that lost the name meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._exited.wait(), within)
        if client != self.client:
            return ()
        self._exited.clear()
        exits, self._exits = tuple(self._exits), []
        return exits

    def take_gone(self) -> tuple[int, ...]:
        gone = tuple(self._gone)
        self._gone.clear()
        return gone

    async def invoke(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Reply:
        """Run one of the manager's :data:`FORWARDED` methods; errors become part of the reply."""
        if method not in FORWARDED:
            raise ValueError(f"{method!r} is not a session manager call a client may make")
        session_id = kwargs.get("session_id")
        if isinstance(session_id, int):
            self.max_id = max(self.max_id, session_id)
        try:
            value = getattr(self.manager, method)(*args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
        except StreamshellError as e:
            return Reply(error=e, gone=self.take_gone())
        started = None
        if method == "exec_command" and isinstance(value.exit_status, Ongoing):
            started = self.manager.session_info(value.exit_status.session_id)
        return Reply(value, gone=self.take_gone(), started=started)


class NodeActor:
    """Created by clients through Ray (detached, named per node, pinned to its node)."""

    def __init__(self) -> None:
        self._node = ray.get_runtime_context().get_node_id()
        self._environ = node_environment()
        self._tenants: dict[str, Tenant] = {}
        self._closing = False
        self._changed = asyncio.Event()
        self._created = time.monotonic()
        self._attached_once = False
        self._reaper = asyncio.get_running_loop().create_task(self._reap())
        log.info("node actor started on node %s (pid %d)", self._node, os.getpid())

    def __repr__(self) -> str:
        return f"<NodeActor node={self._node[:12]} tenants={list(self._tenants)} closing={self._closing}>"

    async def attach(
        self, name: str, client: str, options: ManagerOptions, lease: float, client_cwd: str
    ) -> Attached:
        """Give ``client`` the sessions held under ``name``: new ones, or those a previous client of
        that name left (a restarted client; a client still using the name loses it)."""
        if self._closing:
            return Attached(self._node, os.getpid(), closing=True)
        self._attached_once = True
        tenant = self._tenants.get(name)
        if tenant is None:
            gone: list[int] = []
            # The client tells of exits with the next result of a call on any node (it hears of
            # them through :meth:`exits`): this node's results carry none of their own.
            node_options = dataclasses.replace(session_directory(options, client_cwd), exit_notices=False)
            manager = SessionManager(node_options, environ=self._environ, on_retire=gone.append)
            tenant = self._tenants[name] = Tenant(name, client, manager, lease, gone)
            log.info("client %s attached as %r (lease %.1f s)", client[:8], name, lease)
        elif tenant.client != client:
            log.info("client %s took over %r from client %s", client[:8], name, tenant.client[:8])
        tenant.renew(client)
        tenant.lease = lease
        sessions = tuple(tenant.manager.list_sessions())
        next_id = max([tenant.max_id, *(s.session_id for s in sessions)]) + 1  # above all it was given
        return Attached(self._node, os.getpid(), sessions, next_id)

    async def renew(self, name: str, client: str) -> str | None:
        """Extend ``client``'s lease on ``name``; when the name is no longer its own, how its
        sessions ended for it."""
        tenant, dropped = self._tenant(name, client)
        if tenant is not None:
            tenant.renew(client)
        return dropped

    async def call(
        self, name: str, client: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Reply:
        """One session manager call for ``client``, holding ``name``."""
        tenant, dropped = self._tenant(name, client)
        if tenant is None:
            return Reply(dropped=dropped)
        return await tenant.invoke(method, args, kwargs)

    async def exits(self, name: str, client: str, within: float) -> Reply:
        """The exits of ``client``'s sessions that no call watched, as soon as one happens (a long
        poll: none after ``within`` seconds, so the client asks again)."""
        tenant, dropped = self._tenant(name, client)
        if tenant is None:
            return Reply(dropped=dropped)
        return Reply(await tenant.exits(client, within))

    def _tenant(self, name: str, client: str) -> tuple[Tenant | None, str | None]:
        """``client``'s tenant ``name``; or None, and how its sessions ended for ``client``."""
        tenant = self._tenants.get(name)
        if tenant is not None and tenant.client == client:
            return tenant, None
        if tenant is not None:
            return None, f"was taken over by another client named {name!r}"
        return None, f"was killed: its node {self._node} stopped hearing from this client (its lease ran out)"

    @ray.method(_generator_backpressure_num_objects=STREAM_IN_FLIGHT)
    async def stream(
        self, name: str, client: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> AsyncIterator[str | Reply]:
        """Like :meth:`call`, yielding the call's live output (coalesced text) while it waits,
        then the reply. Cancelled, it cancels the call (an ``exec_command`` kills its session)."""
        tenant, dropped = self._tenant(name, client)
        if tenant is None:
            yield Reply(dropped=dropped)
            return
        backlog = OutputBacklog(STREAM_BACKLOG_CHARS)
        ready = asyncio.Event()

        def feed(text: str) -> None:
            backlog.feed(text)
            ready.set()

        task = asyncio.ensure_future(tenant.invoke(method, args, {**kwargs, "on_output": feed}))
        task.add_done_callback(lambda _: ready.set())
        try:
            while True:
                await ready.wait()
                ready.clear()
                finished = task.done()  # before taking: no output can follow a finished call
                if backlog:
                    yield backlog.take()
                if finished:
                    break
            yield task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    @ray.method(_generator_backpressure_num_objects=STREAM_IN_FLIGHT)
    async def watch(self, name: str, client: str, session_id: int) -> AsyncIterator[WatchEvent | Reply]:
        """A session's watch events (its screen first) until it is closed; a :class:`Reply` with the
        error instead when it cannot be watched. A client that lags makes the session's
        :class:`~streamshell._engine.watch.Watch` throw its backlog away for a fresh screen."""
        tenant, dropped = self._tenant(name, client)
        if tenant is None:
            yield Reply(dropped=dropped)
            return
        try:
            watch = tenant.manager.watch(session_id)
        except StreamshellError as e:
            yield Reply(error=e)
            return
        try:
            async for event in watch:
                yield event
        finally:
            await watch.aclose()

    async def detach(self, name: str, client: str) -> None:
        """The client closes: kill every session held under ``name``."""
        tenant, _ = self._tenant(name, client)
        if tenant is None:
            return
        del self._tenants[name]
        log.info("client %s detached from %r: closing its sessions", client[:8], name)
        await tenant.manager.aclose()
        self._changed.set()

    async def _reap(self) -> None:
        """Close names whose lease ran out; exit when no name is left (or none ever came)."""
        while True:
            tick = min([MAX_TICK, *(t.lease / 4 for t in self._tenants.values())])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), tick)
            self._changed.clear()
            now = time.monotonic()
            for name, tenant in list(self._tenants.items()):
                if tenant.expires <= now:
                    log.warning(
                        "no word from client %s of %r for %.1f s: killing its sessions",
                        tenant.client[:8],
                        name,
                        now - tenant.renewed,
                    )
                    del self._tenants[name]
                    await tenant.manager.aclose()
            if not self._tenants and (self._attached_once or now - self._created > IDLE_EXIT):
                # Decided on the loop, with no await since the check: no attach can slip in.
                self._closing = True
                log.info("no client left: the node actor exits")
                ray.actor.exit_actor()  # type: ignore[no-untyped-call]
