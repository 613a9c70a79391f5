"""Metrics of a Ray cluster: the driver's snapshot covers every node runtime; its endpoint labels series by node."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.cluster_actors import Counter

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_the_drivers_metrics_cover_every_node_and_scrape_with_node_labels(cluster_system):
    counters = [cluster_system.spawn(Counter, node=i) for i in range(3)]
    for i, counter in enumerate(counters):
        for n in range(i + 1):
            counter.tell(n)
        assert counter.ask("count", timeout=20).result() == i + 1
    snapshot = cluster_system.metrics()
    assert {node.node for node in snapshot.nodes} >= {"driver", "n0", "n1", "n2"}
    per_node = {row.node: row for row in snapshot.classes if row.actor_class == "Counter"}
    assert {node: per_node[node].processed for node in ("n0", "n1", "n2")} == {"n0": 2, "n1": 3, "n2": 4}
    n0 = next(node for node in snapshot.nodes if node.node == "n0")
    assert n0.pid != next(node for node in snapshot.nodes if node.node == "driver").pid
    assert {s.peer for s in n0.streams} >= {"n1", "n2"}  # its streams to its peers
    with cluster_system.serve_metrics() as server:
        text = urllib.request.urlopen(server.url + "/metrics", timeout=30).read().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    processed = {s.labels["node"]: s.value for s in families["rayka_messages_processed"].samples
                 if s.labels["actor_class"] == "Counter"}
    assert processed["n0"] >= 2 and processed["n1"] >= 3 and processed["n2"] >= 4
    assert {s.labels["node"] for s in families["rayka_node_turns"].samples} >= {"driver", "n0", "n1", "n2"}


def test_top_once_on_the_drivers_endpoint_shows_every_node(cluster_system):
    import io

    from rayka import cli

    counter = cluster_system.spawn(Counter, node=1, name="top-counter")
    counter.tell(1)
    assert counter.ask("count", timeout=20).result() == 1
    with cluster_system.serve_metrics() as server:
        out = io.StringIO()
        assert cli._top(cli._parser().parse_args(["top", "--url", server.url, "--once", "--interval", "0"]), out) == 0
    text = out.getvalue()
    node_rows = [line for line in text.splitlines() if line.strip().startswith(("│ n0", "│ n1", "│ n2", "│ driver"))]
    assert len(node_rows) >= 4, text
    row = next(line for line in text.splitlines() if "/user/top-counter" in line)
    assert "n1" in row and "Counter" in row
    tree = text[text.index("node n1:"):]  # each node draws its own part of the supervision tree
    assert "top-counter (Counter) [running, 0 queued]" in tree.split("\nnode ")[0]


@pytest.mark.timeout(180)
def test_node_runtimes_report_through_rays_metrics_api_to_rays_endpoint() -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(repo / "tests" / "cluster" / "ray_metrics_drill.py")], cwd=repo,
                          env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True, timeout=170)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["processed"] == {"n0": 11.0, "n1": 21.0}  # ten and twenty tells, and one ask each
    assert result["actors"] == {"n0": 1.0, "n1": 1.0}
    assert result["turns"] == ["n0", "n1"]


def test_the_top_app_runs_headless_against_a_cluster(cluster_system):
    import asyncio

    from rayka.observe._top_app import TopApp

    counter = cluster_system.spawn(Counter, node=2, name="app-counter")
    counter.tell(1)
    assert counter.ask("count", timeout=20).result() == 1
    app = TopApp(lambda: cluster_system.metrics(top=50), interval=0.5)

    async def drive() -> None:
        async with app.run_test(size=(160, 80)) as pilot:
            await pilot.pause(1.0)
            assert {row[0] for row in app.table_rows("nodes")} >= {"driver", "n0", "n1", "n2"}
            assert any(row[0] == "/user/app-counter" and row[1] == "n2" for row in app.table_rows("actors"))
            await pilot.press("f")
            await pilot.press(*"app-counter", "enter")
            await pilot.pause(0.2)
            assert [row[0] for row in app.table_rows("actors")] == ["/user/app-counter"]
            await pilot.press("q")

    asyncio.run(drive())
