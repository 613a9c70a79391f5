"""Kill a whole Ray node (its raylet) under a running system; print what was seen as JSON.

Run by ``test_membership.py`` in its own process: it needs a Ray cluster of its own (two raylets on
127.0.0.1 with ``ray.cluster_utils.Cluster``), and one process can be connected to one Ray cluster.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import cloudpickle  # noqa: E402
import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import rayka  # noqa: E402
from rayka.testing import TestProbe  # noqa: E402
from tests.cluster import cluster_actors  # noqa: E402
from tests.cluster.cluster_actors import Counter, OrderChecker, Sender  # noqa: E402

cloudpickle.register_pickle_by_value(cluster_actors)
faulthandler.enable()  # a crash prints every thread's stack to stderr


def main() -> None:
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False, "resources": {"safe": 2}})
    doomed = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1", resources={"doomed": 1})
    ray.init(address=cluster.address, configure_logging=False)
    result: dict = {}
    try:
        nodes = [{"resources": {"safe": 0.01}}, {"resources": {"doomed": 0.01}}, {"resources": {"safe": 0.01}}]
        with rayka.ActorSystem("raylet", cluster=rayka.RayCluster(address=cluster.address, nodes=nodes,
                                                                  down_after=3.0)) as system:
            receiver = system.spawn(OrderChecker, name="receiver", node=2)
            sender = system.spawn(Sender, node=0)
            victim = system.spawn(Counter, name="victim", node=1)
            victim.tell("before")
            assert victim.ask("count", timeout=30).result() == 1
            sent = sender.ask(("go", receiver, 20_000), timeout=120)
            killed = time.monotonic()
            cluster.remove_node(doomed)  # the raylet and every worker on it
            result["recovered"] = system.cluster.wait_recovered("n1", timeout=60)
            again = system.lookup("victim")
            result["victim_node"] = again._cell.node
            result["victim_count"] = again.ask("count", timeout=30).result()
            result["recovery_ms"] = (time.monotonic() - killed) * 1000
            result["sent"] = sent.result()
            probe = TestProbe(system)
            receiver.tell(("notify", 20_000, probe.ref))
            probe.expect("reached", timeout=60)
            result["report"] = receiver.ask("report", timeout=30).result()
            result["restarts"] = system.statistics()["restarts"]
        print("RESULT " + json.dumps(result), flush=True)
    finally:
        print("shutting down Ray", file=sys.stderr, flush=True)
        ray.shutdown()
        cluster.shutdown()
        print("Ray is down", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
