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


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on 127.0.0.1 for the session (or ``RAYKA_TEST_POSTGRES``); its DSN in ``.dsn``.

    Without PostgreSQL installed the tests that need it are skipped, except in CI
    (``CI`` set), where they fail: there the server must run.
    """
    from rayka._pgserver import PostgresServer, find_bin

    given = os.environ.get("RAYKA_TEST_POSTGRES")
    if given:
        yield type("GivenServer", (), {"dsn": given, "port": None})()
        return
    bin_dir = find_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed (no initdb); install it or set RAYKA_TEST_POSTGRES=<dsn>"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_schema(postgres, request) -> str:
    """A fresh schema name per test, so tests never see each other's events."""
    import hashlib

    return "t_" + hashlib.blake2b(request.node.nodeid.encode(), digest_size=8).hexdigest() + f"_{os.getpid()}"
