"""A cluster whose node runtimes report through Ray's metrics API; scrape Ray's endpoint (its own process and Ray)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import cloudpickle  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import rayka  # noqa: E402
from tests.cluster import cluster_actors  # noqa: E402

cloudpickle.register_pickle_by_value(cluster_actors)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("ray_rayka_"):
                found[(sample.name, sample.labels.get("actor_class", ""), sample.labels.get("node", ""))] = sample.value
    return found


def main() -> None:
    port = free_port()
    cluster = rayka.RayCluster(nodes=2, ray_metrics=0.5, log_to_driver=False, init={
        "_metrics_export_port": port, "_system_config": {"metrics_report_interval_ms": 500}})
    with rayka.ActorSystem("ray-metrics", cluster=cluster) as system:
        counters = [system.spawn(cluster_actors.Counter, node=i) for i in range(2)]
        for i, counter in enumerate(counters):
            for n in range(10 * (i + 1)):
                counter.tell(n)
            assert counter.ask("count", timeout=30).result() == 10 * (i + 1)
        wanted = {("ray_rayka_messages_processed_total", "Counter", "n0"): 11.0,
                  ("ray_rayka_messages_processed_total", "Counter", "n1"): 21.0}
        found: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = scrape(port)
            if all(found.get(key) == value for key, value in wanted.items()):
                break
            time.sleep(0.5)  # Ray exports on its own interval: nothing to wait on but the endpoint
        result = {"processed": {f"{k[2]}": found.get(k) for k in wanted},
                  "actors": {node: found.get(("ray_rayka_actors", "Counter", node)) for node in ("n0", "n1")},
                  "turns": sorted(k[2] for k in found if k[0] == "ray_rayka_node_turns_total")}
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
