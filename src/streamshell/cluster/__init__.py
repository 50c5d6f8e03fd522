"""Scale-out on Ray: the session manager's calls, answered by sessions on many hosts.

``RaySessionManager`` has the calls of :class:`~streamshell.SessionManager` (same
parameters, results and texts), so the dispatcher, the MCP server and the agent run on it
unchanged. It needs Ray (``pip install 'streamshell[ray]'``, on the client and on every
node); ``import streamshell`` does not import Ray, this package does.

**Node actors.** Each node runs one async actor (:mod:`.node`), started on demand by the
first client that places a session there: detached, pinned to its node with a hard
node-affinity strategy, and named after the node (and streamshell's version) in the
``streamshell`` namespace, so every client, a restarted one included, finds it. The actor
holds one ordinary session manager per client name, configured with the client's
:class:`~streamshell.ManagerOptions`, on the worker's event loop: PTYs, pidfds and input
are handled exactly as in a local process, with no thread per session. Sessions start in
the node's own environment (its raylet's, without what Ray sets for workers).

**The client's table** (:mod:`.table`). Ids count from 0 across the cluster, as the
reference's do on one machine; the client picks the node by the placement rule
(:mod:`.placement`: ``spread``, the node with the fewest open sessions, by default;
``pack``; or a Ray resource or label the nodes must have) and gives the node the id, so
the node's manager numbers the session the same way and every text it writes is already
the client's. Calls go to the node as whole parameter objects and come back as whole
results (:mod:`.wire`), so fields added to either cross unchanged. Each reply also says
which sessions left the node's table, keeping the client's view exact without polling.
Live output (``on_output``, hence MCP progress) comes from an actor method that yields the
call's output as it arrives, coalesced while the client catches up, then the result.
``max_sessions`` and pruning apply per node: each node's PTYs are its own.

**Failures.** A node that leaves the cluster fails only its own sessions: their next call
raises :class:`~streamshell.SessionLostError` ("session id N was lost with its node ...,
which left the cluster (last seen ... running `cmd` as pid P)"), new sessions go to live
nodes, and ``list_sessions`` shows the lost ones (``lost`` set) until each is asked about
once; the node's watchdog helpers kill what the dying actor leaves. Closing the manager
kills every session on every node and lets each actor exit once no client is left. A
client that disappears without closing is noticed by its lease: it renews it on every node
four times per ``orphan_grace`` (30 s); a node that hears nothing for longer kills that
client's sessions, unless a client with the same ``name`` has taken them back by then.
"""

from __future__ import annotations

try:
    import ray  # noqa: F401
except ImportError as e:  # pragma: no cover - the extra is installed for the tests
    raise ImportError(f"streamshell.cluster needs Ray ({e}): pip install 'streamshell[ray]'") from e

from .manager import RaySessionManager

__all__ = ["RaySessionManager"]
