"""A real multi-node Ray cluster on this machine, for the cluster tests (``ray.cluster_utils.Cluster``:
every node has its own raylet and worker processes)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from helpers import MARK

SOLO_RESOURCE = "streamshell_solo"
"""A custom resource only the first worker offers (``placement="resource:streamshell_solo"``)."""

ZONE_LABEL = ("streamshell-zone", "b")
"""A label only the second worker has (``placement="label:streamshell-zone=b"``)."""

HEAD = {"num_cpus": 1, "include_dashboard": False, "include_log_monitor": False}
"""No dashboard, and no log monitor (workers' logs are not copied to the tests): fewer processes to start."""


@dataclass
class LocalCluster:
    """The cluster, its address, and its three nodes' ids (head, then the workers)."""

    cluster: Any
    address: str
    head: str
    solo: str
    zone: str

    @property
    def node_ids(self) -> tuple[str, str, str]:
        return (self.head, self.solo, self.zone)

    def add_node(self, **args: Any) -> Any:
        """One more worker node (a test that adds one removes it)."""
        return self.cluster.add_node(num_cpus=1, **args)

    def remove_node(self, node: Any) -> None:
        self.cluster.remove_node(node)


@contextlib.contextmanager
def start_test_cluster() -> Iterator[LocalCluster]:
    import ray
    from ray.cluster_utils import Cluster

    assert MARK not in os.environ, "the cluster must start before a test's marker is set"
    cluster = Cluster(initialize_head=True, head_node_args=HEAD)
    try:
        solo = cluster.add_node(num_cpus=1, resources={SOLO_RESOURCE: 1})
        zone = cluster.add_node(num_cpus=1, labels=dict([ZONE_LABEL]))
        cluster.wait_for_nodes(timeout=120)
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            head = cluster.head_node.node_id
            yield LocalCluster(cluster, cluster.address, head, solo.node_id, zone.node_id)
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()


def ray_manager(cluster: LocalCluster, **kwargs: Any) -> Any:
    """A RaySessionManager on the test cluster whose sessions carry the test's leak marker (the nodes'
    sessions inherit the node's environment, not this process's)."""
    from streamshell.cluster import RaySessionManager

    env = {MARK: os.environ[MARK], **kwargs.pop("env", {})}
    return RaySessionManager(address=cluster.address, env=env, **kwargs)
