"""Fixtures shared by the whole suite: an actor system that is always shut down."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rayka import ActorSystem
from rayka.testing import ManualClock

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    """An embedded actor system on the real clock, shut down after the test."""
    system = ActorSystem("test", shutdown_timeout=2.0)
    try:
        yield system
    finally:
        system.shutdown(timeout=10)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only with ``clock.advance(seconds)``."""
    return ManualClock()


@pytest.fixture
def clocked(clock: ManualClock) -> Iterator[ActorSystem]:
    """An actor system whose timers and restart backoff follow ``clock``."""
    system = ActorSystem("clocked", clock=clock, shutdown_timeout=2.0)
    try:
        yield system
    finally:
        system.shutdown(timeout=10)


@pytest.fixture(scope="session")
def ray_cluster():
    """Two Ray nodes on 127.0.0.1, shut down at the end of the session."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1", resources={"accel": 1})
    ray.init(address=cluster.address, configure_logging=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
