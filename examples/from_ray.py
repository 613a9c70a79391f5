"""A small Ray app ported to rayka: a counter with methods, a CPU pool mapped over, concurrent async fetches.

The Ray original, line by line, is in the comments. The same code runs in
one process (no Ray started) and, with ``--cluster``, on a local Ray
cluster of two node runtimes, where the pool's workers are spread over both.

    python examples/from_ray.py
    python examples/from_ray.py --cluster
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import rayka
from rayka.patterns import ActorPool, Pool

from _metrics import add_common_arguments, cluster_for, say


# @ray.remote
# class Counter:
class Counter(rayka.Actor):
    def __init__(self) -> None:
        self.value = 0

    def add(self, n: int) -> int:
        self.value += n
        return self.value


# @ray.remote
# class Worker:
class Worker(rayka.Actor):
    def work(self, n: int) -> tuple[int, int]:
        total = sum(i * i for i in range(n))  # CPU-bound
        return os.getpid(), total


# @ray.remote(max_concurrency=8)
# class Fetcher:
class Fetcher(rayka.Actor):
    max_concurrency = 8

    def __init__(self) -> None:
        self.active = self.peak = 0

    async def fetch(self, url: str) -> str:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.05)  # I/O: eight of these overlap
        self.active -= 1
        return f"<page {url}>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--items", type=int, default=16, help="work items for the pool (default 16)")
    args = parser.parse_args(argv)
    with rayka.ActorSystem("from-ray", cluster=cluster_for(args.cluster, __name__)) as system:
        # counter = Counter.remote()
        counter = system.spawn(Counter)
        # ray.get([counter.add.remote(1) for _ in range(10)])
        values = rayka.gather([counter.proxy().add(1) for _ in range(10)]).result(timeout=30)
        # ray.get(counter.add.remote(5)), typed: mypy checks the argument and knows it is an int
        total = counter.call(Counter.add, 5).result(timeout=30)
        say(f" [x] counter: {values[-1]} after 10 adds, {total} after one more of 5")

        # pool = ActorPool([Worker.remote() for _ in range(2)]); list(pool.map(lambda a, v: a.work.remote(v), items))
        workers = system.spawn(Pool, Worker, 2, placement="spread")
        pool = ActorPool(workers, in_flight=2)
        started = time.perf_counter()
        results = list(pool.map(lambda worker, n: worker.proxy(timeout=60).work(n), [200_000] * args.items))
        pids = {pid for pid, _ in results}
        say(f" [x] pool: {len(results)} items in {time.perf_counter() - started:.2f} s on {len(pids)} process(es)")

        # fetcher = Fetcher.remote(); ray.get([fetcher.fetch.remote(u) for u in urls])
        fetcher = system.spawn(Fetcher).proxy()
        started = time.perf_counter()
        pages = rayka.gather([fetcher.fetch(f"/item/{i}") for i in range(16)]).result(timeout=30)
        elapsed = time.perf_counter() - started
        say(f" [x] fetched {len(pages)} pages in {elapsed:.2f} s, {fetcher.peak.result(timeout=30)} at once")

        # ready, pending = ray.wait(refs, num_returns=2)
        done, pending = rayka.wait([counter.proxy().add(0) for _ in range(4)], num_returns=2).result(timeout=30)
        say(f" [x] wait: {len(done)} done, {len(pending)} pending or done later")
    ok = values == list(range(1, 11)) and total == 15 and len(results) == args.items and len(pages) == 16
    print("all answers correct" if ok else "WRONG answers", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
