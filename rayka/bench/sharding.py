"""Sharded entities on 3 node runtimes of one local Ray instance.

    python -m rayka.bench.sharding [--entities N] [--quick] [--json PATH]    (or: rayka bench sharding)

Cases:

- activation: a loader on each node runtime sends one message to each of N
  entities (ids spread at random over the shards); activations per second
  per node, from the first message to the last activation;
- memory per active entity: the node runtimes' resident memory (``VmRSS``)
  after the activation, less before it, over the entities they run;
- tells to random active entities against plain tells across nodes to a
  known ref, and against plain tells to random known refs (10,000 plain
  actors on each node, told by the loader of another node), the same count
  from the same loaders, in the same run;
- rebalance after a node joins (until it runs its share of the shards and
  an entity of a moved shard answered) and after one is killed (until an
  entity of a lost shard answered again on another node).

``--embedded`` runs one process instead (no Ray): an actor tells 200,000
messages to random entities among 50,000, then to random plain actors among
50,000, then to one plain actor; median of ``--repeat`` rounds each, as rates
and as ratios to the two plain cases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from typing import Any, Callable, Iterable

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import rayka  # noqa: E402
from rayka.bench._report import emit_json  # noqa: E402
from rayka.bench.cluster import _table  # noqa: E402

__all__ = ["Hits", "Loader", "main", "run", "run_embedded"]

_received = [0]  # messages handled by Hits in this process


class Hits(rayka.Actor):
    """A minimal entity (or plain actor): counts what it handles, per process."""

    def __init__(self, key: Any = None) -> None:
        self.key = key

    def receive(self, message: Any) -> Any:
        if message == "pid":
            return os.getpid()
        _received[0] += 1
        return None


class Loader(rayka.Actor):
    """On a node runtime: sends tells to entities or to one plain ref; answers this process's counters."""

    async def receive(self, message: Any) -> Any:
        kind = message[0]
        if kind == "received":
            return [_received[0], os.getpid(), _rss_kib()]
        if kind == "entities":
            _, name, ids = message
            entities = self.context.system.entities(Hits, name=name)
            return await _tell_each(entities.ref(entity_id) for entity_id in ids)
        if kind == "spawn":  # plain actors here, for another node's loader to tell at random
            return [self.context.spawn(Hits) for _ in range(message[1])]
        if kind == "random":
            _, refs, count, seed = message
            pick = random.Random(seed).choice
            return await _tell_each(pick(refs) for _ in range(count))
        _, target, count = message
        return await _tell_each(target for _ in range(count))


async def _tell_each(refs: Iterable[Any]) -> int:
    """Tell ``1`` to each ref, yielding every 200 so the dispatcher (256 turns a slice) serves the receivers."""
    n = 0
    for n, ref in enumerate(refs, 1):
        ref.tell(1)
        if n % 200 == 0:
            await asyncio.sleep(0)
    return n


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _received_total(loaders: list) -> int:
    return sum(loader.ask(["received"], timeout=60).result()[0] for loader in loaders)


def _wait_received(loaders: list, target: int, timeout: float = 600.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _received_total(loaders) >= target:
            return time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"only {_received_total(loaders)} of {target} messages arrived in {timeout} s")


def run(entities: int = 1_000_000, quick: bool = False, progress: Callable[[str], Any] | None = None,
        down_after: float = 5.0) -> dict:
    """Run every case once on 3 node runtimes (``RayCluster(down_after=...)``); return the figures."""
    say = progress or (lambda text: None)
    count = 100_000 if quick else entities
    report: dict[str, Any] = {"entities": count, "nodes": 3, "cpus": os.cpu_count(), "python": sys.version.split()[0],
                              "down_after": down_after}
    cluster = rayka.RayCluster(nodes=3, num_cpus=os.cpu_count(), log_to_driver=False, down_after=down_after)
    with rayka.ActorSystem("bench-sharding", cluster=cluster) as system:
        import importlib

        here = importlib.import_module("rayka.bench.sharding")  # by name, not __main__: the nodes import it
        hits = system.entities(here.Hits, name="hits", shards=100)
        loaders = [system.spawn(here.Loader, node=node) for node in ("n0", "n1", "n2")]
        before = {pid: rss for _, pid, rss in (loader.ask(["received"], timeout=60).result() for loader in loaders)}
        ids = [f"e{i}" for i in range(count)]
        random.Random(7).shuffle(ids)
        say(f"activate {count:,} entities from 3 loaders")
        started = time.monotonic()
        parts = [ids[k::3] for k in range(3)]
        for loader, part in zip(loaders, parts):
            loader.tell(["entities", "hits", part])
        done = _wait_received(loaders, count)
        stats = hits.statistics()
        seconds = done - started
        report["activation_seconds"] = seconds
        report["activations_per_s"] = stats.activations / seconds
        report["activations_per_s_per_node"] = stats.activations / seconds / 3
        report["shards_per_node"] = stats.shards_per_node
        after = {pid: rss for _, pid, rss in (loader.ask(["received"], timeout=60).result() for loader in loaders)}
        report["kib_per_active_entity"] = sum(after[pid] - before[pid] for pid in after) / max(stats.active, 1)

        say("tells to random entities against plain tells across nodes")
        n = min(count, 300_000)
        sample = random.Random(8).sample(ids, n)
        base = _received_total(loaders)
        started = time.monotonic()
        for loader, part in zip(loaders, (sample[k::3] for k in range(3))):
            loader.tell(["entities", "hits", part])
        report["entity_tells_per_s"] = n / (_wait_received(loaders, base + n) - started)
        sinks = [system.spawn(here.Hits, node=node) for node in ("n1", "n2", "n0")]  # each loader: the next node
        base = _received_total(loaders)
        started = time.monotonic()
        for loader, sink, k in zip(loaders, sinks, range(3)):
            loader.tell(["plain", sink, len(sample[k::3])])
        report["plain_tells_per_s"] = n / (_wait_received(loaders, base + n) - started)
        report["entity_over_plain_tells"] = report["entity_tells_per_s"] / report["plain_tells_per_s"]
        per_node = 10_000  # plain actors on each node, told at random by the loader of the node before it
        spawned = [loader.ask(["spawn", per_node], timeout=300) for loader in loaders]
        refs = [reply.result() for reply in spawned]
        base = _received_total(loaders)
        started = time.monotonic()
        for k, loader in enumerate(loaders):
            loader.tell(["random", refs[(k + 1) % 3], len(sample[k::3]), k])
        report["plain_random_tells_per_s"] = n / (_wait_received(loaders, base + n) - started)
        report["entity_over_plain_random_tells"] = report["entity_tells_per_s"] / report["plain_random_tells_per_s"]

        say("rebalance after a node joins")
        started = time.monotonic()
        added = system.cluster.add_node()
        fair = 100 // 4 - 1
        while hits.statistics().shards_per_node.get(added, 0) < fair:
            time.sleep(0.05)
        moved = hits.statistics().shards_per_node
        report["rebalance_join_shards_moved"] = moved.get(added, 0)
        probe = _entity_on(system, hits, ids, added)
        hits.ref(probe).ask(1, timeout=60).result()
        report["rebalance_join_seconds"] = time.monotonic() - started

        say("rebalance after a node is lost")
        victim = "n1"
        probe = _entity_on(system, hits, ids, victim)
        started = time.monotonic()
        system.cluster.kill_node(victim)
        while True:  # an ask in flight to the dead node fails (ActorStopped): ask again until it answers
            try:
                hits.ref(probe).ask(1, timeout=10).result()
                break
            except rayka.RaykaError:
                if time.monotonic() - started > 120:
                    raise
                time.sleep(0.05)
        report["node_loss_first_answer_seconds"] = time.monotonic() - started
        system.cluster.wait_recovered(victim, timeout=60)
    return report


class _Teller(rayka.Actor):
    """Embedded: tells one message to each ref it is given, from an actor (the region's own thread)."""

    async def receive(self, refs: list) -> int:
        return await _tell_each(refs)


def run_embedded(entities: int = 50_000, tells: int = 200_000, repeat: int = 3) -> dict:
    """Tells from an actor to random entities, to random plain actors, and to one plain actor (one process)."""
    rates: dict[str, list[float]] = {"entity": [], "plain_random": [], "plain_one": []}
    with rayka.ActorSystem("bench-sharding-embedded") as system:
        hits = system.entities(Hits, name="hits")
        ids = [f"e{i}" for i in range(entities)]
        teller = system.spawn(_Teller)
        teller.ask([hits.ref(entity_id) for entity_id in ids], timeout=600).result()  # activate them all
        plain = [system.spawn(Hits) for _ in range(entities)]
        one = system.spawn(Hits)
        pick = random.Random(9)
        for _ in range(repeat):
            for case, refs in (("entity", [hits.ref(pick.choice(ids)) for _ in range(tells)]),
                               ("plain_random", [pick.choice(plain) for _ in range(tells)]),
                               ("plain_one", [one] * tells)):
                base = _received[0]
                started = time.perf_counter()
                teller.tell(refs)
                deadline = time.monotonic() + 600
                while _received[0] < base + tells and time.monotonic() < deadline:
                    time.sleep(0.001)
                rates[case].append(tells / (time.perf_counter() - started))
    median = {case: sorted(values)[len(values) // 2] for case, values in rates.items()}
    return {"embedded_entities": entities, "embedded_tells": tells, "repeat": repeat,
            **{f"embedded_{case}_tells_per_s": rate for case, rate in median.items()},
            "embedded_entity_over_plain_random": median["entity"] / median["plain_random"],
            "embedded_entity_over_plain_one": median["entity"] / median["plain_one"]}


def _entity_on(system: Any, hits: Any, ids: list[str], node: str) -> str:
    """An entity id whose shard runs on ``node`` now."""
    pid = next(info.pid for info in system.cluster.nodes() if info.node == node)
    for entity_id in ids[:5000]:
        if hits.ref(entity_id).ask("pid", timeout=60).result() == pid:
            return entity_id
    raise AssertionError(f"no entity found on {node}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="rayka: sharded entities on 3 node runtimes")
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 entities")
    parser.add_argument("--down-after", type=float, default=5.0, help="RayCluster(down_after=...), seconds")
    parser.add_argument("--json", help="also write the JSON here")
    parser.add_argument("--embedded", action="store_true", help="one process, no Ray: tells only")
    parser.add_argument("--repeat", type=int, default=3, help="--embedded: rounds per case (median)")
    args = parser.parse_args(argv)
    if args.embedded:
        report = run_embedded(repeat=args.repeat)
        print(_table(report))
        emit_json(report, args.json)
        return
    report = run(args.entities, args.quick, progress=lambda text: print(f"... {text}", flush=True),
                 down_after=args.down_after)
    print(_table(report))
    emit_json(report, args.json)


if __name__ == "__main__":
    main()
