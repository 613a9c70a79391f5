"""CPU-bound work mapped over a pool: one node runtime against two, and embedded, in one run.

    python -m rayka.bench.pool [--items N] [--work MS] [--repeat R] [--json PATH]

A :class:`~rayka.patterns.Pool` of ``nodes`` routees spread over the node
runtimes (``placement="spread"``), each item a pure-Python loop of about
``--work`` ms (it holds the GIL, as real CPU-bound Python does), mapped from
the driver with :class:`~rayka.patterns.ActorPool` (2 in flight per routee).
Each node runtime is one process, so two of them can use two cores; the
embedded run (one process, two routees) shows what the GIL leaves without
them. Reported: the median wall time of ``--repeat`` runs per setting and
the speed-up of two nodes over one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import rayka  # noqa: E402
from rayka.bench._report import emit_json  # noqa: E402
from rayka.patterns import ActorPool, Pool  # noqa: E402

__all__ = ["main", "run"]


class _Burn(rayka.Actor):
    """Spins ``n`` rounds of a pure-Python loop: CPU-bound, holding the GIL."""

    throughput = 1  # one item per turn: the loop (and its other actors) gets a look in between

    def receive(self, n: Any) -> Any:
        total = 0
        for i in range(n):
            total += i * i % 7
        return total


def _rounds_for(ms: float) -> int:
    started = time.perf_counter()
    _Burn().receive(200_000)
    per_round = (time.perf_counter() - started) / 200_000
    return max(1, int(ms / 1000 / per_round))


def _map_seconds(system: rayka.ActorSystem, routees: int, items: int, rounds: int) -> float:
    pool = system.spawn(Pool, _Burn, routees, placement="spread")
    mapper = ActorPool(pool, in_flight=2)
    list(mapper.map(None, [1] * routees * 2))  # every routee up
    started = time.perf_counter()
    results = list(mapper.map(None, [rounds] * items, timeout=300))
    elapsed = time.perf_counter() - started
    if len(results) != items:
        raise RuntimeError(f"pool map returned {len(results)} of {items} results")
    pool.stop()
    return elapsed


def run(items: int = 40, work_ms: float = 50.0, repeat: int = 3) -> dict[str, Any]:
    """Median seconds to map ``items`` CPU-bound items embedded, on 1 node runtime and on 2."""
    rounds = _rounds_for(work_ms)
    report: dict[str, Any] = {"items": items, "work_ms": work_ms, "rounds": rounds, "repeat": repeat,
                              "cpus": os.cpu_count()}
    with rayka.ActorSystem("bench-pool-embedded") as system:
        report["embedded_2_routees_s"] = statistics.median(
            _map_seconds(system, 2, items, rounds) for _ in range(repeat))
    for nodes in (1, 2):
        cluster = rayka.RayCluster(nodes=nodes, num_cpus=os.cpu_count())
        with rayka.ActorSystem(f"bench-pool-{nodes}", cluster=cluster) as system:
            report[f"nodes_{nodes}_s"] = statistics.median(
                _map_seconds(system, nodes, items, rounds) for _ in range(repeat))
    report["speedup_2_nodes_over_1"] = report["nodes_1_s"] / report["nodes_2_s"]
    report["ideal_s"] = items * work_ms / 1000
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rayka.bench.pool", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--work", type=float, default=50.0, help="ms of CPU per item (default 50)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the JSON report here")
    args = parser.parse_args(argv)
    report = run(args.items, args.work, args.repeat)
    for key in ("embedded_2_routees_s", "nodes_1_s", "nodes_2_s"):
        print(f"{key:28} {report[key]:8.2f} s   ({report['items']} items x {report['work_ms']:g} ms of CPU)")
    goal = report["speedup_2_nodes_over_1"]
    print(f"2 nodes over 1: {goal:.2f}x (goal >= 1.6 on 2 cores: {'met' if goal >= 1.6 else 'NOT met'})")
    emit_json(report, args.json)


if __name__ == "__main__":
    main()
