"""Measure how many events per second the journals persist: SQLite and PostgreSQL side by side.

Run ``python -m rayka.bench.journal [--quick] [--dir DIR] [--postgres DSN|auto|none]``.
With ``auto`` (the default) it starts a throwaway PostgreSQL server on
127.0.0.1 when PostgreSQL is installed (and psycopg, ``rayka[postgres]``);
``none`` measures SQLite alone. Every scenario
appends single-event requests and counts an event as persisted when its
future resolves (committed, and fsynced unless ``sync="off"``). Scenarios,
run on each journal:

- ``group``, 4 producer threads, each keeping up to 256 appends outstanding;
- ``group``, 1 producer keeping up to 4096 appends outstanding;
- ``always`` (one transaction and one fsync per append), same single producer;
- ``off`` (grouped, no fsync), for reference;
- ``group``, 1 and 16 producers each waiting for each append before the
  next, like persistent actors that confirm every event (latency).

Then one-item durable puts through a :class:`~rayka.patterns.WorkQueue`
(256 puts unanswered, 4 consumers acknowledging) on each journal. The run
prints a table with PostgreSQL's rate as a ratio of SQLite's, then one JSON
line with the same figures.
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
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from rayka.persistence import Journal, SqliteJournal

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


def _produce(journal: Journal, pid: str, count: int, outstanding: int, payload: bytes) -> None:
    pending: deque[Future[int]] = deque()
    append, wait = journal.append, pending.popleft
    for _ in range(count):
        pending.append(append(pid, [payload]))
        if len(pending) >= outstanding:
            wait().result()
    while pending:
        wait().result()


Opener = Callable[..., Journal]


def _scenario(opener: Opener, kind: str, spec: dict[str, Any], events: int, payload: bytes) -> dict[str, Any]:
    producers = spec["producers"]
    per_producer = events // producers
    with opener(spec["name"], sync=spec["sync"]) as journal:
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
        "journal": kind,
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


@contextmanager
def _postgres(choice: str) -> Iterator[tuple[str | None, str]]:
    """``(dsn, note)``: the server to measure (``None`` and why not, if none)."""
    if choice == "none":
        yield None, "not asked for"
        return
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        yield None, 'psycopg missing: pip install "rayka[postgres]"'
        return
    if choice != "auto":
        yield choice, "given"
        return
    from rayka._pgserver import PostgresServer, find_bin

    bin_dir = find_bin()
    if bin_dir is None:
        yield None, "PostgreSQL not installed (no initdb)"
        return
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server.dsn, f"throwaway server on 127.0.0.1 ({os.path.basename(os.path.dirname(bin_dir))})"
    finally:
        server.remove()


def _queue_puts(opener: Opener, kind: str, total: int) -> dict[str, Any]:
    from rayka.bench.patterns import _queue_run

    with opener("queue", sync="group") as journal:
        row = _queue_run(total, journal=journal, batch=1, outstanding=256)
    return {"scenario": "queue-1-item-puts", "journal": kind, "sync": "group", "producers": 1,
            "outstanding": 256, "events": row["items"], "seconds": row["seconds"], "events_per_s": row["per_s"],
            "commits": row["commits"], "events_per_commit": round(row["journal_events"] / max(row["commits"], 1), 1),
            "mean_latency_ms": round(256 * row["seconds"] / row["items"] * 1000, 3)}


def run(quick: bool = False, *, directory: str | None = None, payload_size: int = 100,
        postgres: str = "auto") -> dict[str, Any]:
    """Run every scenario on each journal and return the figures.

    Args:
        quick: Use about a tenth of the events (a few seconds in all).
        directory: Where to put the SQLite files (a fresh temporary directory
            inside it, removed afterwards); the system's temporary directory if ``None``.
        payload_size: Bytes per event.
        postgres: A DSN, ``"auto"`` (a throwaway local server if PostgreSQL is
            installed) or ``"none"``.

    Returns:
        ``{"benchmark": "journal", "results": [...], ...}``, one result per scenario and journal.
    """
    workdir = tempfile.mkdtemp(prefix="rayka-bench-journal-", dir=directory)
    payload = os.urandom(payload_size)
    run_id = uuid.uuid4().hex[:8]

    def sqlite(name: str, **options: Any) -> Journal:
        return SqliteJournal(os.path.join(workdir, f"{name}.db"), **options)

    results = []
    try:
        with _postgres(postgres) as (dsn, note):
            openers: list[tuple[str, Opener]] = [("sqlite", sqlite)]
            if dsn is not None:
                from rayka.persistence import PostgresJournal

                def postgresql(name: str, **options: Any) -> Journal:
                    return PostgresJournal(dsn, schema=f"bench_{run_id}_{name.replace('-', '_')}", **options)

                openers.append(("postgres", postgresql))
            for spec in _SCENARIOS:
                for kind, opener in openers:
                    results.append(_scenario(opener, kind, spec, spec["events"][1 if quick else 0], payload))
            for kind, opener in openers:
                results.append(_queue_puts(opener, kind, 5_000 if quick else 50_000))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "journal",
        "quick": quick,
        "payload_bytes": payload_size,
        "filesystem": _filesystem(os.path.realpath(workdir)),
        "postgres": note,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }


def _table(report: dict[str, Any]) -> str:
    header = (
        f"{'scenario':<20}{'journal':<10}{'sync':<8}{'prod':>5}{'outst':>7}{'events':>9}"
        f"{'events/s':>11}{'commits':>9}{'ev/commit':>11}{'lat ms':>9}{'vs sqlite':>11}"
    )
    lines = [header, "-" * len(header)]
    sqlite = {row["scenario"]: row["events_per_s"] for row in report["results"] if row["journal"] == "sqlite"}
    for row in report["results"]:
        ratio = f"{row['events_per_s'] / sqlite[row['scenario']]:.2f}x" if row["journal"] != "sqlite" else ""
        lines.append(
            f"{row['scenario']:<20}{row['journal']:<10}{row['sync']:<8}{row['producers']:>5}{row['outstanding']:>7}"
            f"{row['events']:>9}{row['events_per_s']:>11,}{row['commits']:>9}{row['events_per_commit']:>11}"
            f"{row['mean_latency_ms']:>9}{ratio:>11}"
        )
    lines.append(f"payload {report['payload_bytes']} B, filesystem {report['filesystem']}, {report['cpus']} CPUs, "
                 f"PostgreSQL: {report['postgres']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m rayka.bench.journal", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a tenth of the events")
    parser.add_argument("--dir", default=None, help="directory for the journal files (default: system temp)")
    parser.add_argument("--payload-size", type=int, default=100, help="bytes per event (default: 100)")
    parser.add_argument("--postgres", default="auto",
                        help="a DSN, 'auto' (a throwaway local server if installed) or 'none' (default: auto)")
    args = parser.parse_args(argv)
    report = run(args.quick, directory=args.dir, payload_size=args.payload_size, postgres=args.postgres)
    print(_table(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
