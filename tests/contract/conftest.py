"""One suite, two backends: the embedded runtime and a Ray cluster of node runtimes.

Each test gets ``backend``: a running system and ``at(i)``, the placement of
an actor on "node i" (``None`` embedded: everything lives in one process).
The Ray parameter shares one cluster-mode system per session on the session's
loopback Ray cluster and carries the ``cluster`` marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cloudpickle
import pytest

import rayka
from tests.cluster import cluster_actors
from tests.contract import contract_actors

cloudpickle.register_pickle_by_value(contract_actors)
cloudpickle.register_pickle_by_value(cluster_actors)


@dataclass
class Backend:
    kind: str
    system: rayka.ActorSystem

    def at(self, index: int) -> Any:
        return None if self.kind == "embedded" else index


@pytest.fixture(scope="session")
def _ray_system(ray_cluster):
    system = rayka.ActorSystem("contract-ray", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=2))
    try:
        yield system
    finally:
        system.shutdown()


@pytest.fixture(scope="session")
def _msgpack_system(ray_cluster):
    cluster = rayka.RayCluster(address=ray_cluster.address, nodes=2, wire="msgpack")
    system = rayka.ActorSystem("contract-msgpack", cluster=cluster)
    try:
        yield system
    finally:
        system.shutdown()


@pytest.fixture(params=["embedded", pytest.param("ray", marks=pytest.mark.cluster),
                        pytest.param("ray-msgpack", marks=pytest.mark.cluster)])
def backend(request):
    if request.param == "embedded":
        system = rayka.ActorSystem("contract", shutdown_timeout=2.0)
        try:
            yield Backend("embedded", system)
        finally:
            system.shutdown(timeout=10)
    elif request.param == "ray":
        yield Backend("ray", request.getfixturevalue("_ray_system"))
    else:
        yield Backend("ray-msgpack", request.getfixturevalue("_msgpack_system"))
