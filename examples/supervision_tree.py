"""Supervision tree: a failure injected into one worker, its supervisor restarts it, the rest carry on.

The tree (OTP style, ``rayka.Supervisor`` with child specs)::

    app (Supervisor, one-for-one)
    ├── cache (Cache)
    └── workers (Supervisor, one-for-one)
        ├── w0 (Worker)
        ├── w1 (Worker)
        └── w2 (Worker)

Each worker counts the jobs it did. ``w1`` is told to fail; its supervisor
restarts it: the same ref and path, a fresh instance (its count starts again
at 0), while ``w0``, ``w2`` and the cache keep their state.

    python examples/supervision_tree.py
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import rayka

from _metrics import say, short_supervision_logs
from _notebook import get_or_spawn, tree_text


@dataclass(frozen=True, slots=True)
class Fail:
    """Make the worker raise while handling this message."""

    reason: str


class Worker(rayka.Actor):
    """Counts jobs; raises on ``Fail``."""

    def __init__(self) -> None:
        self.done = 0

    def receive(self, message):
        if isinstance(message, Fail):
            raise RuntimeError(message.reason)
        if message == "count":
            return self.done
        self.done += 1
        return self.done


class Cache(rayka.Actor):
    """A key-value store: ``("put", k, v)`` and ``("get", k)``."""

    def __init__(self) -> None:
        self.data: dict = {}

    def receive(self, message):
        match message:
            case ("put", key, value):
                self.data[key] = value
            case ("get", key):
                return self.data.get(key)
        return None


def build(system: rayka.ActorSystem, workers: int = 3) -> rayka.ActorRef:
    """Start the tree under ``/user/app`` (or find it running); returns the top supervisor's ref."""
    worker_specs = [rayka.ChildSpec(Worker, f"w{i}") for i in range(workers)]
    specs = [rayka.ChildSpec(Cache, "cache"),
             rayka.ChildSpec(rayka.Supervisor, "workers", args=(worker_specs, rayka.OneForOne()))]
    app = get_or_spawn(system, rayka.Supervisor, specs, rayka.OneForOne(max_restarts=3, within=10.0), name="app")
    # A supervisor starts its children in on_start: an ask is answered after it, once they exist.
    children = app.ask("children", timeout=5).result()
    children["workers"].ask("children", timeout=5).result()
    return app


def do_work(system: rayka.ActorSystem, jobs: int = 3, workers: int = 3) -> dict[str, int]:
    """Give every worker ``jobs`` jobs; returns each worker's count."""
    for i in range(workers):
        for _ in range(jobs):
            system.lookup(f"/user/app/workers/w{i}").tell("job")
    return counts(system, workers)


def counts(system: rayka.ActorSystem, workers: int = 3) -> dict[str, int]:
    """Each worker's job count (asked, so it comes after every job sent before)."""
    return {f"w{i}": system.lookup(f"/user/app/workers/w{i}").ask("count", timeout=5).result() for i in range(workers)}


def inject_failure(system: rayka.ActorSystem, path: str = "/user/app/workers/w1") -> float:
    """Make the actor at ``path`` fail; returns the seconds until it (restarted) answers again."""
    ref = system.lookup(path)
    began = time.perf_counter()
    ref.tell(Fail("injected failure"))
    ref.ask("count", timeout=5).result()  # queued behind the failure: answered by the new instance
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    short_supervision_logs()
    with rayka.ActorSystem("supervision") as system:
        build(system)
        system.lookup("/user/app/cache").tell(("put", "greeting", "hello"))
        before = do_work(system)
        print("the tree, each worker after 3 jobs:", before)
        print(tree_text(system))
        ref_before = system.lookup("/user/app/workers/w1")
        say(" [!] injecting a failure into /user/app/workers/w1")
        seconds = inject_failure(system)
        after = counts(system)
        same_ref = system.lookup("/user/app/workers/w1") == ref_before
        cached = system.lookup("/user/app/cache").ask(("get", "greeting"), timeout=5).result()
        restarts = system.statistics().get("restarts", 0)
        print("the tree after the failure:")
        print(tree_text(system))
        print(f"w1 restarted in {seconds * 1000:.2f} ms, same ref: {same_ref}; counts now {after} "
              f"(w1 starts again at 0, the others kept theirs); the cache still holds {cached!r}; "
              f"restarts in the system: {restarts}", flush=True)
    ok = after == {"w0": 3, "w1": 0, "w2": 3} and same_ref and cached == "hello" and restarts == 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
