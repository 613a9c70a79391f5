"""Cluster work queue: the work queue over two Ray node runtimes, one of them killed mid-run.

The scenario of ``work_queue.py`` spread over a local Ray cluster (always
cluster mode; Ray stays on 127.0.0.1): the queue and the producer live on
node runtime ``n0``, a supervisor with two consumers on each of ``n0`` and
``n1``. Once a third of the results are in, ``n1``'s process is killed with
SIGKILL. The queue sees its consumers there die (death watch) and hands
their unacknowledged jobs to the others; the cluster starts the supervisor
that lived on ``n1`` again on a live node, with its consumers. The producer
still confirms every result: nothing lost (a job whose result was sent just
before the kill, but whose acknowledgement was not, comes back twice, and
the producer counts it once).

    python examples/cluster_work_queue.py
    python examples/cluster_work_queue.py --jobs 30 --work-ms 20
"""

from __future__ import annotations

import argparse
import sys
import time

import rayka
from rayka.patterns import Drain, GetQueueStatistics, WorkQueue

import work_queue
from _metrics import Figures, Timings, cluster_for, say, wait_until
from _notebook import get_or_spawn
from work_queue import Confirm, Producer, Produce, Progress, Worker


def start(system: rayka.ActorSystem, *, jobs: int = 60, per_node: int = 2, work: float = 0.05,
          capacity: int = 16) -> tuple[rayka.ActorRef, rayka.ActorRef]:
    """Spawn the queue, a supervisor of consumers on each node runtime and the producer; start producing.

    Returns ``(queue, producer)``.
    """
    # get_or_spawn: running this again (a notebook cell) finds the same actors instead of failing.
    queue = get_or_spawn(system, WorkQueue, capacity, ack_timeout=max(2.0, 40 * work), name="jobs", node=0)
    for node, group in enumerate(("a", "b")):
        specs = [rayka.ChildSpec(Worker, f"{group}-worker-{i}", args=(queue, work, None)) for i in range(per_node)]
        get_or_spawn(system, rayka.Supervisor, specs, rayka.OneForOne(), name=f"workers-{group}", node=node)
    producer = get_or_spawn(system, Producer, queue, name="producer", node=0)
    say(f" [x] {jobs} jobs for {2 * per_node} consumers on node runtimes {system.cluster.live_nodes()}")
    producer.tell(Produce(jobs))
    return queue, producer


def kill_node_when(system: rayka.ActorSystem, producer: rayka.ActorRef, results: int, node: str = "n1") -> dict:
    """Once the producer has ``results`` results, SIGKILL node runtime ``node`` and wait for the recovery."""
    runtime = system.cluster
    if node not in runtime.live_nodes():
        say(f" [ ] node runtime {node} is gone already; live: {runtime.live_nodes()}")
        return {"done_before_kill": None, "recovered": runtime.wait_recovered(node, timeout=60), "recovery_ms": 0.0}
    wait_until(lambda: producer.ask(Progress(), timeout=10).result() >= results, timeout=120)
    done_before = producer.ask(Progress(), timeout=10).result()
    killed = time.perf_counter()
    runtime.kill_node(node)
    say(f" [!] killed node runtime {node} (SIGKILL) with {done_before} results in")
    recovered = runtime.wait_recovered(node, timeout=60)
    recovery_ms = (time.perf_counter() - killed) * 1000
    say(f" [+] {node}'s actors started again on {runtime.live_nodes()} in {recovery_ms:.0f} ms")
    return {"done_before_kill": done_before, "recovered": recovered, "recovery_ms": recovery_ms}


def finish(system: rayka.ActorSystem, queue: rayka.ActorRef, producer: rayka.ActorRef, *, jobs: int,
           consumers: int, capacity: int = 16, timeout: float = 120) -> dict:
    """Wait for the producer's confirmation and the last acknowledgement; returns the summary and figures."""
    summary = producer.ask(Confirm(), timeout=timeout).result()
    queue.ask(Drain(), timeout=60).result()
    stats = queue.ask(GetQueueStatistics()).result(timeout=10)
    timings = Timings(send=summary["sends"], queue=summary["wait"], receive=summary["work"])
    figures = Figures(f"{consumers} consumers on 2 nodes, one killed", summary["confirmed"], summary["seconds"],
                      timings, stats.peak, stats.pending + stats.in_flight, f"work queue of capacity {capacity}")
    figures.measure_resources(system)
    summary.update(stats=stats, figures=figures, live_nodes=system.cluster.live_nodes(),
                   nothing_lost=summary["confirmed"] == jobs and not summary["missing"] and not summary["wrong"])
    return summary


def run(*, jobs: int = 60, per_node: int = 2, work: float = 0.05, kill_after: int | None = None,
        capacity: int = 16) -> dict:
    """Run the scenario; returns the producer's confirmation, the kill and recovery times, and the figures."""
    kill_after = jobs // 3 if kill_after is None else kill_after
    cluster = cluster_for(True, __name__, work_queue, nodes=2)
    with rayka.ActorSystem("cluster-work-queue", cluster=cluster) as system:
        queue, producer = start(system, jobs=jobs, per_node=per_node, work=work, capacity=capacity)
        kill = kill_node_when(system, producer, kill_after)
        summary = finish(system, queue, producer, jobs=jobs, consumers=2 * per_node, capacity=capacity,
                         timeout=120 + jobs * work * 4)
    summary.update(kill)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60, help="jobs to put (default 60)")
    parser.add_argument("--per-node", type=int, default=2, help="consumers per node runtime (default 2)")
    parser.add_argument("--work-ms", type=float, default=50.0, help="milliseconds per job (default 50)")
    parser.add_argument("--kill-after", type=int, default=None, help="results in before n1 is killed "
                        "(default: a third of the jobs)")
    args = parser.parse_args(argv)
    s = run(jobs=args.jobs, per_node=args.per_node, work=args.work_ms / 1000, kill_after=args.kill_after)
    stats = s["stats"]
    print(f"producer confirmed {s['confirmed']}/{args.jobs} results, all correct: {not s['wrong']}; "
          f"missing {len(s['missing'])}, duplicates {s['duplicates']} (counted once)", flush=True)
    say(f"jobs per consumer: {s['by']}")
    print(f"queue: accepted {stats.accepted}, acknowledged {stats.acknowledged}, redelivered {stats.redelivered}; "
          f"node loss handled in {s['recovery_ms']:.0f} ms; live node runtimes {s['live_nodes']}", flush=True)
    ok = s["recovered"] and s["confirmed"] == args.jobs and not s["missing"] and not s["wrong"]
    if ok:
        say("nothing lost")
    s["figures"].print()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
