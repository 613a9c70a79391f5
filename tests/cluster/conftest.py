"""A local Ray cluster on loopback, shared by the cluster tests: 2 Ray nodes, 3 node runtimes."""

from __future__ import annotations

import os

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import cloudpickle
import pytest

from tests.cluster import cluster_actors

# Test modules are not importable on the node runtimes: send their classes by value.
cloudpickle.register_pickle_by_value(cluster_actors)

# Only the node runtimes import this one (the msgpack-wire test checks the driver never does): no doctest import.
collect_ignore = ["wire_node_errors.py"]


@pytest.fixture(scope="module")
def cluster_system(ray_cluster):
    """A cluster-mode ActorSystem with 3 node runtimes; the third holds the `accel` resource."""
    import rayka

    nodes = [{}, {}, {"resources": {"accel": 1}}]
    system = rayka.ActorSystem("ctest", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=nodes))
    try:
        yield system
    finally:
        system.shutdown()
