"""Measure how many events per second the SQLite journal persists.

Run ``python -m rayka.bench.journal [--quick] [--dir DIR]``. Every scenario
appends single-event requests and counts an event as persisted when its
future resolves (committed, and fsynced unless ``sync="off"``). Scenarios:

- ``group``, 4 producer threads, each keeping up to 256 appends outstanding;
- ``group``, 1 producer keeping up to 4096 appends outstanding;
- ``always`` (one transaction and one fsync per append), same single producer;
- ``off`` (grouped, no fsync), for reference;
- ``group``, 1 and 16 producers each waiting for each append before the
  next, like persistent actors that confirm every event (latency).

The run prints a table, then one JSON line with the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any

from rayka.persistence import SqliteJournal

__all__ = ["main", "run"]

def _spec(name: str, sync: str, producers: int, outstanding: int, full: int, quick: int) -> dict[str, Any]:
    return {"name": name, "sync": sync, "producers": producers, "outstanding": outstanding, "events": (full, quick)}


_SCENARIOS = [
    _spec("group-4-producers", "group", 4, 256, 200_000, 20_000),
    _spec("group-1-producer", "group", 1, 4096, 200_000, 20_000),
    _spec("always-1-producer", "always", 1, 4096, 3_000, 500),
    _spec("off-1-producer", "off", 1, 4096, 200_000, 20_000),
    _spec("group-1-waiting", "group", 1, 1, 2_000, 300),
    _spec("group-16-waiting", "group", 16, 1, 16_000, 3_200),
]


def _produce(journal: SqliteJournal, pid: str, count: int, outstanding: int, payload: bytes) -> None:
    pending: deque[Future[int]] = deque()
    append, wait = journal.append, pending.popleft
    for _ in range(count):
        pending.append(append(pid, [payload]))
        if len(pending) >= outstanding:
            wait().result()
    while pending:
        wait().result()


def _scenario(directory: str, spec: dict[str, Any], events: int, payload: bytes) -> dict[str, Any]:
    path = os.path.join(directory, f"{spec['name']}.db")
    producers = spec["producers"]
    per_producer = events // producers
    with SqliteJournal(path, sync=spec["sync"]) as journal:
        threads = [
            threading.Thread(target=_produce, args=(journal, f"p{i}", per_producer, spec["outstanding"], payload))
            for i in range(producers)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        stats = journal.statistics()
    persisted = per_producer * producers
    assert stats.events == persisted, (stats, persisted)
    return {
        "scenario": spec["name"],
        "sync": spec["sync"],
        "producers": producers,
        "outstanding": spec["outstanding"],
        "events": persisted,
        "seconds": round(elapsed, 4),
        "events_per_s": round(persisted / elapsed),
        "commits": stats.commits,
        "events_per_commit": round(persisted / max(stats.commits, 1), 1),
        # Little's law: requests in flight / throughput.
        "mean_latency_ms": round(producers * spec["outstanding"] * elapsed / persisted * 1000, 3),
    }


def _filesystem(directory: str) -> str:
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 2 and directory.startswith(fields[1]) and len(fields[1]) > len(best):
                    best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def run(quick: bool = False, *, directory: str | None = None, payload_size: int = 100) -> dict[str, Any]:
    """Run every scenario and return the figures.

    Args:
        quick: Use about a tenth of the events (a few seconds in all).
        directory: Where to put the journal files (a fresh temporary directory
            inside it, removed afterwards); the system's temporary directory if ``None``.
        payload_size: Bytes per event.

    Returns:
        ``{"benchmark": "journal", "results": [...], ...}``, one result per scenario.
    """
    workdir = tempfile.mkdtemp(prefix="rayka-bench-journal-", dir=directory)
    payload = os.urandom(payload_size)
    try:
        results = [_scenario(workdir, spec, spec["events"][1 if quick else 0], payload) for spec in _SCENARIOS]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "journal",
        "quick": quick,
        "payload_bytes": payload_size,
        "filesystem": _filesystem(os.path.realpath(workdir)),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }


def _table(report: dict[str, Any]) -> str:
    header = (
        f"{'scenario':<20}{'sync':<8}{'prod':>5}{'outst':>7}{'events':>9}"
        f"{'events/s':>11}{'commits':>9}{'ev/commit':>11}{'lat ms':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in report["results"]:
        lines.append(
            f"{row['scenario']:<20}{row['sync']:<8}{row['producers']:>5}{row['outstanding']:>7}{row['events']:>9}"
            f"{row['events_per_s']:>11,}{row['commits']:>9}{row['events_per_commit']:>11}{row['mean_latency_ms']:>9}"
        )
    lines.append(f"payload {report['payload_bytes']} B, filesystem {report['filesystem']}, {report['cpus']} CPUs")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m rayka.bench.journal", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a tenth of the events")
    parser.add_argument("--dir", default=None, help="directory for the journal files (default: system temp)")
    parser.add_argument("--payload-size", type=int, default=100, help="bytes per event (default: 100)")
    args = parser.parse_args(argv)
    report = run(args.quick, directory=args.dir, payload_size=args.payload_size)
    print(_table(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
