"""``RaySessionManager``: the session manager's calls, answered by sessions on a Ray cluster's nodes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Any, Self

import ray
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .._engine.exit_listeners import ExitListener, ExitListeners
from .._engine.manager import CANCELLED_STARTS
from .._engine.options import ManagerOptions
from .._engine.session import OutputCallback
from .._engine.watch import WatchEvent
from .._version import __version__
from ..errors import ClusterError, ManagerClosedError, SpawnError, StreamshellError
from ..params import DEFAULT_MAX_OUTPUT_TOKENS, ExecCommandParams, WriteStdinParams
from ..profiles import Profile
from ..results import ExecCommandOutput, Exited, ExitNotice, SessionInfo
from .node import NodeActor
from .placement import Candidate, NodeInfo, Placement
from .table import SessionTable
from .wire import NAMESPACE, Attached, Call, Reply, actor_name

DEFAULT_ORPHAN_GRACE = 30.0
"""Seconds the nodes keep a silent client's sessions: its lease (renewed four times as often)."""

ATTACH_ATTEMPTS = 20
"""Tries to attach to a node whose actor is exiting or failing (0.25 s apart), before giving up."""

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a ``HOST:PORT`` cluster address to accept a connection."""

BROKEN_FOR = 60.0
"""Seconds placement skips a node whose actor could not start, before trying it again."""

MAX_CONCURRENT_CALLS = 100_000
"""Calls one node actor runs at once (each waiting call holds one)."""

log = logging.getLogger(__name__)


class NodeState(enum.Enum):
    NEW = "new"
    """Not attached: the client has no sessions there (yet, or any more)."""
    ATTACHED = "attached"
    LOST = "lost"
    """The node left the cluster (final)."""


@dataclasses.dataclass(eq=False)
class NodeSlot:
    """One node as this client uses it: its index in the session table, its actor, its state."""

    index: int
    info: NodeInfo
    state: NodeState = NodeState.NEW
    handle: Any = None
    actor_pid: int | None = None
    attaching: asyncio.Future[None] | None = None
    failure: str | None = None
    """Why streamshell's actor could not start there, the last time it was tried."""
    broken_until: float = 0.0
    """Until then (``time.monotonic``), placement skips the node: its actor could not start."""
    watcher: asyncio.Task[None] | None = None
    """Hears of the exits of this client's sessions on the node as they happen."""

    @property
    def node_id(self) -> str:
        return self.info.node_id

    def __repr__(self) -> str:
        return f"<NodeSlot {self.index} {self.node_id[:12]} {self.state.value} actor_pid={self.actor_pid}>"


_NODE_ACTOR = ray.remote(NodeActor)


class _NodeGone(Exception):
    """A call's node dropped it: the node left (LOST), or its actor stopped holding our sessions.
    ``how`` ends the text of a session the table does not remember otherwise."""

    def __init__(self, slot: NodeSlot, how: str) -> None:
        super().__init__(how)
        self.slot = slot
        self.how = how


def unsupported(options: ManagerOptions) -> str | None:
    """Why a cluster cannot run sessions with ``options`` (checked before anything is started), or None."""
    if options.profile is not Profile.REFERENCE:
        return (
            f"profile = {options.profile.value!r}: a cluster serves only the reference profile "
            "(its client numbers sessions from 0 across the nodes)"
        )
    return None


def connect(address: str | None) -> None:
    """Connect this process to the Ray cluster at ``address`` unless it is connected already.

    A ``HOST:PORT`` address is tried first: ``ray.init`` retries an address nobody answers at for
    minutes; this raises :class:`ConnectionError` at once, saying so. Worker logs are not
    copied to this process (an MCP server's stdout is its protocol).
    """
    if ray.is_initialized():
        return
    if address is not None:
        _check_reachable(address)
    ray.init(address=address, log_to_driver=False)


def _check_reachable(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return  # "auto", "ray://...", "local": ray.init says what is wrong itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as e:
        raise ConnectionError(
            f"no Ray cluster answers at {address}: {e.strerror or e} (start one with `ray start --head`, "
            "and give the address it prints)"
        ) from None


class RaySessionManager:
    """The calls of :class:`~streamshell.SessionManager`, run by sessions on the nodes of a Ray cluster.

    ``options`` (or keyword arguments) are the :class:`ManagerOptions` of each node's session
    manager: ``max_sessions`` is per node. ``address`` is what ``ray.init`` takes (``"auto"``,
    ``"ray://HOST:PORT"``, ``"HOST:PORT"``; None: this process's connection, else Ray's
    default); ``placement`` is a rule of :mod:`.placement`. ``name`` identifies this client's
    sessions on the nodes: a client that starts with a name takes over the sessions held under
    it (a restarted client gets its sessions back within ``orphan_grace`` seconds; one name, one
    client at a time); the nodes kill the sessions of a client they have not heard from for
    longer than that. Without a name, a fresh one is used.

    The calls, their parameters, results and texts are the local manager's; ``list_sessions``
    is a coroutine (it asks the nodes), and its :class:`SessionInfo` carry ``node``.
    """

    def __init__(
        self,
        options: ManagerOptions | None = None,
        /,
        *,
        address: str | None = None,
        placement: str = "spread",
        name: str | None = None,
        orphan_grace: float = DEFAULT_ORPHAN_GRACE,
        **kwargs: Any,
    ) -> None:
        if options is not None and kwargs:
            raise TypeError("give RaySessionManager either a ManagerOptions or keyword arguments, not both")
        self.options = options if options is not None else ManagerOptions(**kwargs)
        problem = unsupported(self.options)
        if problem is not None:
            raise ValueError(problem)
        self.placement = Placement.parse(placement)
        if not isinstance(orphan_grace, int | float) or not math.isfinite(orphan_grace) or orphan_grace <= 0:
            raise ValueError(f"orphan_grace = {orphan_grace!r} is not a number of seconds > 0")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name = {name!r} is not a non-empty string")
        self.orphan_grace = float(orphan_grace)
        self.name = name or f"client-{uuid.uuid4().hex}"
        self._client = uuid.uuid4().hex
        self._cwd = os.getcwd()
        connect(address)
        self._table = SessionTable()
        self._slots: list[NodeSlot] = []
        self._by_node: dict[str, NodeSlot] = {}
        self._starting: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._exit_listeners = ExitListeners()
        self._unwatched_exits: dict[int, ExitNotice] = {}
        """Exits heard from the nodes that the next result of a call on any node tells of."""
        self._reclaiming: set[asyncio.Task[None]] = set()
        """Kills of sessions whose start was cancelled, under way."""
        self._closed = False

    @property
    def profile(self) -> Profile:
        """Whose tools and texts the sessions speak: the reference's, the only profile a cluster
        serves (:func:`unsupported` refuses the others before anything starts)."""
        return Profile.REFERENCE

    @property
    def closed(self) -> bool:
        """:meth:`aclose` was called: no new calls."""
        return self._closed

    def __repr__(self) -> str:
        states = ", ".join(f"{sum(s.state is st for s in self._slots)} {st.value}" for st in NodeState)
        return (
            f"<RaySessionManager {'closed' if self._closed else 'open'} name={self.name!r} "
            f"placement={self.placement} nodes: {states} {self._table!r}>"
        )

    # ----- the calls -------------------------------------------------------------------------

    async def exec_command(
        self, params: ExecCommandParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        """Start ``params.cmd`` in a new session on the node the placement picks."""
        reply = await self._start("exec_command", params, {}, on_output)
        output: ExecCommandOutput = reply.value
        return self._with_exit_notices(output)

    async def write_stdin(
        self, params: WriteStdinParams, *, on_output: OutputCallback | None = None
    ) -> ExecCommandOutput:
        """Type into a session, on its node."""
        reply = await self._on_session(params.session_id, Call("write_stdin", (params,)), on_output)
        output: ExecCommandOutput = reply.value
        self._after(params.session_id, output)
        return self._with_exit_notices(output)

    async def kill_session(
        self, session_id: int, *, max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS
    ) -> ExecCommandOutput:
        """Kill a session's process group on its node; its last output and exit code."""
        kwargs = {"max_output_tokens": max_output_tokens}
        reply = await self._on_session(session_id, Call("kill_session", (session_id,), kwargs), None)
        self._table.close(session_id)
        output: ExecCommandOutput = reply.value
        return self._with_exit_notices(output)

    async def run(
        self, params: ExecCommandParams, *, timeout: float, on_output: OutputCallback | None = None
    ) -> tuple[ExecCommandOutput, bool]:
        """Run ``params.cmd`` to completion on the node the placement picks (the one-shot shell tool)."""
        reply = await self._start("run", params, {"timeout": timeout}, on_output)
        result: tuple[ExecCommandOutput, bool] = reply.value
        return result

    async def resize(self, session_id: int, rows: int, cols: int) -> None:
        """Set a session's terminal size, on its node."""
        await self._on_session(session_id, Call("resize", (session_id, rows, cols)), None)

    async def list_sessions(self) -> list[SessionInfo]:
        """Every node's sessions (``node`` set), and the lost ones not asked about yet (``lost``
        set, as last seen), by id. A coroutine: it asks the nodes, all at once."""
        if self._closed:
            return []
        await self._ready()
        attached = [slot for slot in self._slots if slot.state is NodeState.ATTACHED]
        listed = await asyncio.gather(*(self._list_on(slot) for slot in attached))
        sessions = [info for infos in listed for info in infos]
        sessions += self._table.lost_sessions()
        return sorted(sessions, key=lambda info: info.session_id)

    async def ended_sessions(self) -> list[SessionInfo]:
        """The sessions each node's manager remembers as ended (``node`` set), by id (a coroutine)."""
        if self._closed:
            return []
        await self._ready()
        attached = [slot for slot in self._slots if slot.state is NodeState.ATTACHED]
        answers = await asyncio.gather(*(self._ended_on(slot) for slot in attached))
        return sorted((info for infos in answers for info in infos), key=lambda info: info.session_id)

    async def send_input(self, session_id: int, chars: str) -> None:
        """Type into a session on its node without collecting its output (a person watching it)."""
        await self._on_session(session_id, Call("send_input", (session_id, chars)), None)

    async def watch(self, session_id: int) -> AsyncIterator[WatchEvent]:
        """Watch a session on its node (``async for event in m.watch(id)``; ``aclose()`` stops): its
        screen now, then its output, resizes and exit, streamed from the node's actor. Raises as the
        calls do for a session that is unknown or gone, at the first event."""
        self._check_open()
        await self._ready()
        slot = self._slots[self._table.route(session_id)]
        if slot.state is not NodeState.ATTACHED:
            raise self._table.gone_error(session_id, _gone_how(slot))
        stream = slot.handle.watch.remote(self.name, self._client, session_id)
        finished = False
        try:
            async for ref in stream:
                item: WatchEvent | Reply = await ref
                if isinstance(item, Reply):
                    self._settle(slot, item)
                    if item.error is not None:
                        raise item.error
                    break
                yield item
            finished = True
        except _NodeGone as gone:
            raise self._table.gone_error(session_id, gone.how) from None
        except RayActorError as e:
            raise self._table.gone_error(session_id, (await self._actor_failed(slot, e)).how) from None
        finally:
            if not finished:  # the watcher let go (or failed) first: stop the node's side too
                ray.cancel(stream)

    async def aclose(self) -> None:
        """Kill every session on every node and wait until they are gone. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for task in (self._heartbeat, self._starting):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        attaching = [slot.attaching for slot in self._slots if slot.attaching is not None]
        await asyncio.gather(*attaching, return_exceptions=True)  # so none attaches after the close
        await asyncio.gather(*self._reclaiming, return_exceptions=True)  # they call the nodes
        watchers = [slot.watcher for slot in self._slots if slot.watcher is not None]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        attached = [slot for slot in self._slots if slot.state is NodeState.ATTACHED]
        log.info("closing: killing the sessions of %r on %d node(s)", self.name, len(attached))
        await asyncio.gather(*(self._detach(slot) for slot in attached))

    async def __aenter__(self) -> Self:
        await self._ready()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def nodes(self) -> list[NodeSlot]:
        """The nodes this client knows, in the order it first saw them (for logs and tests)."""
        return list(self._slots)

    # ----- one call --------------------------------------------------------------------------

    async def _start(
        self, method: str, params: ExecCommandParams, kwargs: dict[str, Any], on_output: OutputCallback | None
    ) -> Reply:
        """Give a new session the next id, place it, and start it there with ``method``."""
        self._check_open()
        await self._ready()
        session_id = self._table.issue()
        slot = await self._placed()
        if slot is None:
            self._table.end_here(session_id, "never started: its process could not be created")
            raise SpawnError(session_id, self._nowhere())
        self._table.assign(session_id, slot.index)
        try:
            reply = await self._call(
                slot, Call(method, (params,), {**kwargs, "session_id": session_id}), on_output
            )
        except _NodeGone as gone:
            if gone.slot.state is NodeState.LOST:
                raise self._table.lose_start(session_id, slot.node_id, params.cmd) from None
            self._table.answered(session_id, None)
            raise self._table.gone_error(session_id, gone.how) from None
        except asyncio.CancelledError:
            self._reclaim(slot, session_id, method)
            raise
        except BaseException:
            self._table.answered(session_id, None)
            raise
        self._table.answered(session_id, None if reply.started is None else self._on(slot, reply.started))
        return reply

    def _reclaim(self, slot: NodeSlot, session_id: int, method: str) -> None:
        """A start was cancelled. When the cancel reached the node in time, the node killed the
        session; when the node had answered already (the answer was on its way), the session runs
        there still: kill it, as the local manager kills the session of a cancelled start. Until
        that is done, placement counts the session on its node."""
        task = asyncio.get_running_loop().create_task(self._kill_cancelled(slot, session_id, method))
        self._reclaiming.add(task)
        task.add_done_callback(self._reclaiming.discard)

    async def _kill_cancelled(self, slot: NodeSlot, session_id: int, method: str) -> None:
        how = CANCELLED_STARTS[method]
        # Ended for callers now, not once the kill's answer is back: a call in between must not
        # reach the node and hear of a plain kill. Placement counts the session until ``answered``.
        self._table.end_here(session_id, how)
        try:
            await self._call(slot, Call("kill_session", (session_id,)), None)
            log.info("killed session %d on node %s: %s", session_id, slot.node_id, how)
        except (StreamshellError, _NodeGone) as e:  # the node's own cancel killed it, or it never started
            log.debug("session %d of a cancelled %s: %s", session_id, method, e)
        except Exception:
            log.exception(
                "could not kill session %d of a cancelled %s on node %s", session_id, method, slot.node_id
            )
        finally:
            self._table.answered(session_id, None)

    async def _on_session(self, session_id: int, call: Call, on_output: OutputCallback | None) -> Reply:
        """Send a call on an existing session to its node."""
        self._check_open()
        await self._ready()
        slot = self._slots[self._table.route(session_id)]
        try:
            if slot.state is not NodeState.ATTACHED:  # the node left, or dropped our sessions
                raise _NodeGone(slot, _gone_how(slot))
            return await self._call(slot, call, on_output)
        except _NodeGone as gone:
            raise self._table.gone_error(session_id, gone.how) from None

    def subscribe_exit_notices(self, listener: ExitListener) -> Callable[[], None]:
        """Call ``listener`` at once whenever a session on any node exits while no call waits on it
        (the same notice the next result of a call on any node carries); returns the function that
        unsubscribes it."""
        return self._exit_listeners.subscribe(listener)

    def _exited(self, notice: ExitNotice) -> None:
        """A node tells of an exit nobody watched: the next result says so (once), listeners hear it now."""
        if self.options.exit_notices and self._table.is_open(notice.session_id):
            self._unwatched_exits[notice.session_id] = notice
        self._exit_listeners.tell(notice)

    def _with_exit_notices(self, output: ExecCommandOutput) -> ExecCommandOutput:
        """``output`` with the notices the local manager's result would carry: every exit heard
        since the last result, from any node, but the one ``output`` reports itself."""
        if isinstance(output.exit_status, Exited) and output.session_id is not None:
            self._unwatched_exits.pop(output.session_id, None)
        if not self._unwatched_exits:
            return output
        notices = tuple(
            n if self._table.is_open(n.session_id) else dataclasses.replace(n, kept=False)
            for n in self._unwatched_exits.values()
        )
        self._unwatched_exits.clear()
        return dataclasses.replace(output, exit_notices=output.exit_notices + notices)

    async def _watch_exits(self, slot: NodeSlot, handle: Any) -> None:
        """Ask ``slot``'s node for exits, again and again, while it holds our sessions under ``handle``
        (a long poll of a quarter of the lease; a node that fails is handled by the calls and renewals)."""
        while slot.handle is handle and not self._closed:
            ref = handle.exits.remote(self.name, self._client, self.orphan_grace / 4)
            try:
                reply: Reply = await ref
            except asyncio.CancelledError:
                ray.cancel(ref)
                raise
            except RayActorError:
                return
            if reply.dropped is not None:
                return
            for notice in reply.value:
                self._exited(notice)

    def _after(self, session_id: int, output: ExecCommandOutput) -> None:
        if isinstance(output.exit_status, Exited):
            self._table.close(session_id)
        else:
            self._table.heard(session_id)

    def _on(self, slot: NodeSlot, info: SessionInfo) -> SessionInfo:
        return dataclasses.replace(info, node=slot.node_id)

    async def _call(self, slot: NodeSlot, call: Call, on_output: OutputCallback | None) -> Reply:
        """One call on ``slot``'s node actor (attached first when needed); raises the call's own
        error, or :class:`_NodeGone` when the node dropped it."""
        if slot.state is not NodeState.ATTACHED:
            await self._attach(slot)
        try:
            if on_output is None:
                ref = slot.handle.call.remote(self.name, self._client, *call)
                try:
                    reply: Reply = await ref
                except asyncio.CancelledError:
                    ray.cancel(ref)
                    raise
            else:
                reply = await self._streamed(slot, call, on_output)
        except ActorUnavailableError as e:
            raise ClusterError(f"node {slot.node_id} did not answer ({_first_line(e)}); try again") from None
        except RayActorError as e:
            raise await self._actor_failed(slot, e) from None
        self._settle(slot, reply)
        if reply.error is not None:
            raise reply.error
        return reply

    async def _streamed(self, slot: NodeSlot, call: Call, on_output: OutputCallback) -> Reply:
        """The call as a stream: its live output goes to ``on_output``, then the reply comes."""
        stream = slot.handle.stream.remote(self.name, self._client, *call)
        try:
            async for ref in stream:
                item: str | Reply = await ref
                if isinstance(item, Reply):
                    return item
                on_output(item)
        except asyncio.CancelledError:
            ray.cancel(stream)
            raise
        raise ClusterError(f"node {slot.node_id} ended a call without an answer")  # pragma: no cover

    def _settle(self, slot: NodeSlot, reply: Reply) -> None:
        """Apply what a reply says about the table; a node that dropped our sessions raises."""
        for session_id in reply.gone:
            self._table.close(session_id)
        if reply.dropped is not None:
            raise self._dropped(slot, reply.dropped)

    def _dropped(self, slot: NodeSlot, how: str) -> _NodeGone:
        """``slot``'s node no longer holds our sessions: they ended ``how``; new sessions there will
        attach again."""
        ended = self._table.end_node(slot.index, how)
        log.warning("node %s dropped this client's sessions %s: %s", slot.node_id, ended, how)
        slot.state, slot.handle, slot.actor_pid = NodeState.NEW, None, None
        return _NodeGone(slot, how)

    async def _actor_failed(self, slot: NodeSlot, error: RayActorError) -> _NodeGone:
        """The node's actor died: its node left the cluster, or the actor alone stopped."""
        if slot.state is NodeState.LOST or await self._has_left(slot):
            return _NodeGone(slot, _gone_how(slot))
        log.warning("the actor of node %s died: %s", slot.node_id, _first_line(error))
        return self._dropped(slot, f"was killed: streamshell's actor on node {slot.node_id} stopped")

    # ----- nodes -----------------------------------------------------------------------------

    async def _ready(self) -> None:
        """Start (once, on first use): learn the nodes, attach to every eligible one (taking back
        what a previous client of this name left), and start the lease renewals."""
        self._check_open()
        if self._starting is None or (self._starting.done() and self._starting.exception() is not None):
            self._starting = asyncio.get_running_loop().create_task(self._begin())
        await asyncio.shield(self._starting)

    async def _begin(self) -> None:
        await self._refresh_nodes()
        eligible = [slot for slot in self._slots if self.placement.eligible(slot.info)]
        attached = await asyncio.gather(*(self._attach(slot) for slot in eligible), return_exceptions=True)
        for outcome in attached:
            if isinstance(outcome, BaseException) and not isinstance(outcome, ClusterError | _NodeGone):
                raise outcome  # a node that cannot be used is skipped; anything else is a bug
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._renew_leases())

    async def _refresh_nodes(self) -> None:
        """Ask Ray for the nodes: new ones become usable, departed ones lose their sessions."""
        entries = await asyncio.to_thread(ray.nodes)
        for entry in entries:
            info = NodeInfo.from_ray(entry)
            slot = self._by_node.get(info.node_id)
            if slot is None:
                if not info.alive:
                    continue
                slot = NodeSlot(self._table.add_node(), info)
                self._slots.append(slot)
                self._by_node[info.node_id] = slot
            elif slot.state is not NodeState.LOST:
                slot.info = info
            if not info.alive and slot.state is not NodeState.LOST:
                self._lose(slot)

    async def _has_left(self, slot: NodeSlot) -> bool:
        """Whether ``slot``'s node has left the cluster, asking Ray afresh."""
        await self._refresh_nodes()
        return slot.state is NodeState.LOST

    def _lose(self, slot: NodeSlot) -> None:
        slot.state, slot.handle = NodeState.LOST, None
        lost = self._table.lose_node(slot.index, slot.node_id)
        log.warning("node %s left the cluster; sessions lost with it: %s", slot.node_id, lost)

    def _usable(self) -> list[NodeSlot]:
        """Nodes new sessions may go to: live, allowed by the placement, their actor not failing."""
        now = time.monotonic()
        return [
            slot
            for slot in self._slots
            if slot.state is not NodeState.LOST
            and self.placement.eligible(slot.info)
            and slot.broken_until <= now
        ]

    async def _placed(self) -> NodeSlot | None:
        """The node for a new session, by the placement rule, attached; None when no node qualifies.
        A node whose actor cannot start is skipped (for :data:`BROKEN_FOR` seconds) for the next."""
        while True:
            candidates = [Candidate(slot.index, self._table.load(slot.index)) for slot in self._usable()]
            index = self.placement.choose(candidates, self.options.max_sessions)
            if index is None:
                return None
            slot = self._slots[index]
            try:
                await self._attach(slot)
            except (ClusterError, _NodeGone):
                continue
            return slot

    def _nowhere(self) -> str:
        """Why no node can take a new session, for its spawn error."""
        failed = [s for s in self._slots if s.failure is not None and self.placement.eligible(s.info)]
        if failed and not self._usable():
            return f"streamshell's actor could not start on any node it may use: {failed[-1].failure}"
        return self.placement.nothing_eligible()

    async def _attach(self, slot: NodeSlot) -> None:
        """Get ``slot``'s node actor (started on demand) to hold our sessions; one attach at a time.
        Raises :class:`ClusterError` when the actor cannot start there (the node is then skipped
        for a while), :class:`_NodeGone` when the node left."""
        if slot.state is NodeState.ATTACHED:
            return
        if slot.attaching is None or slot.attaching.done():
            slot.attaching = asyncio.ensure_future(self._attach_once(slot))
        try:
            await asyncio.shield(slot.attaching)
        except ClusterError as e:
            slot.failure, slot.broken_until = str(e), time.monotonic() + BROKEN_FOR
            log.warning("%s; new sessions avoid it for %g s", e, BROKEN_FOR)
            raise
        if slot.state is NodeState.LOST:
            raise _NodeGone(slot, _gone_how(slot))

    async def _attach_once(self, slot: NodeSlot) -> None:
        if slot.state is not NodeState.NEW:
            return
        failure = ""
        for attempt in range(ATTACH_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.25)
            try:
                handle = await asyncio.to_thread(_node_actor, slot.node_id)
            except ValueError as e:  # it died between Ray's own look-ups: another try makes a new one
                failure = _first_line(e)
                continue
            try:
                attached: Attached = await handle.attach.remote(
                    self.name, self._client, self.options, self.orphan_grace, self._cwd
                )
            except RayActorError as e:  # exiting as we came, or cannot start there
                if await self._has_left(slot):
                    return
                failure = _first_line(e)
                continue
            except Exception as e:  # it answers, but not as streamshell's actor of this version does
                reason = _last_line(e)
                raise ClusterError(f"streamshell's actor on node {slot.node_id} failed: {reason}") from None
            if attached.closing:
                failure = "its actor was exiting"
                continue
            slot.handle, slot.actor_pid, slot.state = handle, attached.pid, NodeState.ATTACHED
            slot.failure, slot.broken_until = None, 0.0
            slot.watcher = asyncio.get_running_loop().create_task(self._watch_exits(slot, handle))
            if attached.sessions or attached.next_id:
                sessions = [self._on(slot, info) for info in attached.sessions]
                self._table.adopt(slot.index, sessions, attached.next_id)
                log.info("took back %d session(s) on node %s", len(sessions), slot.node_id)
            return
        raise ClusterError(f"could not start streamshell's actor on node {slot.node_id}: {failure}")

    async def _renew_leases(self) -> None:
        """Every quarter of the grace: renew our lease on every attached node, and look for nodes
        that joined or left."""
        while True:
            await asyncio.sleep(self.orphan_grace / 4)
            try:
                await self._refresh_nodes()
                attached = [slot for slot in self._slots if slot.state is NodeState.ATTACHED]
                await asyncio.gather(*(self._renew(slot) for slot in attached))
            except Exception:  # a failed round must not end the renewals
                log.exception("renewing the leases failed")

    async def _renew(self, slot: NodeSlot) -> None:
        handle = slot.handle
        try:
            dropped = await handle.renew.remote(self.name, self._client)
        except RayActorError as e:
            if slot.handle is handle:
                await self._actor_failed(slot, e)
            return
        if dropped is not None and slot.handle is handle:
            self._dropped(slot, dropped)

    async def _list_on(self, slot: NodeSlot) -> list[SessionInfo]:
        try:
            reply = await self._call(slot, Call("list_sessions"), None)
        except _NodeGone:
            return []
        listed = [self._on(slot, info) for info in reply.value]
        self._table.reconcile(slot.index, listed)
        return listed

    async def _ended_on(self, slot: NodeSlot) -> list[SessionInfo]:
        try:
            reply = await self._call(slot, Call("ended_sessions"), None)
        except _NodeGone:
            return []
        return [self._on(slot, info) for info in reply.value]

    async def _detach(self, slot: NodeSlot) -> None:
        try:
            await slot.handle.detach.remote(self.name, self._client)
        except RayActorError as e:
            log.info("node %s was gone when closing: %s", slot.node_id, _first_line(e))
        slot.state, slot.handle = NodeState.NEW, None

    def _check_open(self) -> None:
        if self._closed:
            raise ManagerClosedError


def _node_actor(node_id: str) -> Any:
    """The node's actor handle: the running one, or a new one pinned to the node (blocking: Ray
    asks its control store)."""
    return _NODE_ACTOR.options(
        name=actor_name(node_id, __version__),
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        num_cpus=0,
        max_restarts=0,
        max_concurrency=MAX_CONCURRENT_CALLS,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote()


def _gone_how(slot: NodeSlot) -> str:
    """How a session on ``slot`` ended, when the table remembers nothing more precise."""
    if slot.state is NodeState.LOST:
        return f"has ended (its node {slot.node_id} left the cluster)"
    return "has ended"


def _last_line(error: BaseException) -> str:
    """The last line of an error's text: a remote traceback's own exception line."""
    return str(error).strip().rsplit("\n", 1)[-1]


def _first_line(error: BaseException) -> str:
    return str(error).strip().split("\n", 1)[0]


__all__: Sequence[str] = ["RaySessionManager"]
