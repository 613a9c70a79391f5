"""The SQLite journal: sequence numbers, group commit, durability, locking, failures."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from rayka._errors import JournalError
from rayka.persistence import FORMAT_VERSION, JournalStatistics, SqliteJournal, decode, encode

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "journal.db")


@pytest.fixture
def journal(path: str) -> Iterator[SqliteJournal]:
    with SqliteJournal(path) as journal:
        yield journal


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``python -c script *args`` with rayka importable; kill what is left at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(script: str, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


def wait_all(futures: list[Future[int]]) -> list[int]:
    return [future.result(timeout=10) for future in futures]


# ------------------------------------------------------------------ sequences


def test_appended_events_read_back_in_order_with_contiguous_sequence_numbers(journal: SqliteJournal) -> None:
    assert journal.append("a", [b"one"]).result(timeout=10) == 1
    assert journal.append("a", [b"two", b"three", bytearray(b"four")]).result(timeout=10) == 4

    assert journal.read("a") == [(1, b"one"), (2, b"two"), (3, b"three"), (4, b"four")]
    assert journal.read("a", 3) == [(3, b"three"), (4, b"four")]
    assert journal.read("a", 2, 3) == [(2, b"two"), (3, b"three")]
    assert journal.read("a", limit=1) == [(1, b"one")]
    assert journal.highest_seq("a") == 4


def test_each_persistence_id_counts_its_own_sequence_from_one(journal: SqliteJournal) -> None:
    futures = [journal.append(pid, [b"x"]) for pid in ("a", "b", "a", "c", "b", "a")]

    assert wait_all(futures) == [1, 1, 2, 1, 2, 3]
    assert journal.highest_seq("nobody") == 0
    assert journal.read("nobody") == []


def test_an_empty_append_resolves_to_the_current_highest_sequence_number(journal: SqliteJournal) -> None:
    assert journal.append("a", []).result(timeout=10) == 0
    journal.append("a", [b"x", b"y"])

    assert journal.append("a", []).result(timeout=10) == 2


def test_a_payload_that_is_not_bytes_is_refused_at_once(journal: SqliteJournal) -> None:
    with pytest.raises(TypeError, match="bytes"):
        journal.append("a", [b"ok", "text"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="persistence_id"):
        journal.append("", [b"x"])

    assert journal.append("a", [b"ok"]).result(timeout=10) == 1


def test_threads_appending_concurrently_get_unique_contiguous_sequence_numbers(journal: SqliteJournal) -> None:
    threads, per_thread = 8, 150
    claimed: list[list[tuple[int, int]]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def produce(index: int) -> None:
        start.wait()
        for i in range(per_thread):
            count = 1 + (index + i) % 3
            payloads = [f"{index}:{i}:{k}".encode() for k in range(count)]
            last = journal.append("shared", payloads).result(timeout=10)
            claimed[index].append((last - count + 1, last))

    workers = [threading.Thread(target=produce, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    seqs = sorted(seq for ranges in claimed for first, last in ranges for seq in range(first, last + 1))
    assert seqs == list(range(1, len(seqs) + 1))
    for ranges in claimed:  # one thread's appends keep their order
        assert ranges == sorted(ranges)
    events = journal.read("shared")
    assert [seq for seq, _ in events] == seqs
    by_seq = dict(events)
    for index, ranges in enumerate(claimed):
        for i, (first, last) in enumerate(ranges):
            assert by_seq[first] == f"{index}:{i}:0".encode()
            assert by_seq[last] == f"{index}:{i}:{last - first}".encode()


# --------------------------------------------------------------- group commit


def test_appends_queued_during_a_commit_share_the_next_commit(path: str) -> None:
    with SqliteJournal(path, group_window=0.2) as journal:
        slow = journal.append("bulk", [bytes(1000)] * 10_000)  # keeps the writer busy while the rest queue up
        futures = [journal.append(f"actor-{i % 7}", [b"e" * 10, b"f" * 5]) for i in range(200)]
        wait_all([slow, *futures])
        stats = journal.statistics()

    assert stats.appends == 201
    assert stats.events == 10_000 + 400
    assert stats.bytes == 10_000 * 1000 + 200 * 15
    assert stats.commits <= 3, stats


def test_appends_within_the_group_window_are_grouped(path: str) -> None:
    with SqliteJournal(path, group_window=0.2) as journal:
        wait_all([journal.append("a", [b"x"]) for _ in range(200)])
        stats = journal.statistics()

    assert stats.appends == 200
    assert stats.commits <= 40, stats


def test_max_group_bounds_the_appends_in_one_commit(path: str) -> None:
    with SqliteJournal(path, group_window=0.2, max_group=10) as journal:
        wait_all([journal.append("a", [b"x"]) for _ in range(100)])
        stats = journal.statistics()

    assert stats.appends == 100
    assert stats.commits >= 10


def test_sync_always_commits_every_append_on_its_own(path: str) -> None:
    with SqliteJournal(path, sync="always") as journal:
        assert wait_all([journal.append("a", [b"x", b"y"]) for _ in range(30)])[-1] == 60
        stats = journal.statistics()

    assert stats == JournalStatistics(appends=30, commits=30, events=60, bytes=60, failed=0)


def test_statistics_are_a_frozen_record(journal: SqliteJournal) -> None:
    stats = journal.statistics()

    assert stats == JournalStatistics()
    with pytest.raises(FrozenInstanceError):
        stats.commits = 1  # type: ignore[misc]


def test_an_append_cancelled_before_the_writer_takes_it_is_not_written(journal: SqliteJournal) -> None:
    busy = journal.append("bulk", [bytes(1000)] * 50_000)
    deadline = time.monotonic() + 10
    while not busy.running():  # the writer has taken it and is busy writing it
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    cancelled = journal.append("c", [b"never"])

    assert cancelled.cancel()
    busy.result(timeout=30)
    assert journal.append("c", [b"first"]).result(timeout=10) == 1
    assert journal.read("c") == [(1, b"first")]


# ------------------------------------------------------------ close and reopen


def test_reopening_a_closed_journal_recovers_every_event_and_continues_the_sequence(path: str) -> None:
    with SqliteJournal(path, sync="off") as journal:
        wait_all([journal.append(f"p{i % 3}", [str(i).encode()]) for i in range(30)])
        journal.save_snapshot("p0", 5, b"state").result(timeout=10)

    with SqliteJournal(path) as journal:
        assert [payload for _, payload in journal.read("p1")] == [str(i).encode() for i in range(1, 30, 3)]
        assert journal.load_snapshot("p0") == (5, b"state")
        assert journal.append("p1", [b"next"]).result(timeout=10) == 11


def test_close_commits_everything_queued_before_it(path: str) -> None:
    journal = SqliteJournal(path, group_window=0.05, max_group=7)
    futures = [journal.append("a", [b"x"]) for _ in range(500)]
    journal.close()

    assert all(future.done() for future in futures)
    assert wait_all(futures) == list(range(1, 501))
    with SqliteJournal(path) as reopened:
        assert reopened.highest_seq("a") == 500


def test_append_after_close_raises_journal_error(path: str) -> None:
    journal = SqliteJournal(path)
    journal.close()
    journal.close()

    assert journal.closed
    with pytest.raises(JournalError, match="closed"):
        journal.append("a", [b"x"])
    with pytest.raises(JournalError, match="closed"):
        journal.read("a")


def test_every_acknowledged_event_survives_a_sigkill_of_the_writing_process(path: str, spawn: Spawn) -> None:
    script = """if True:
        import collections, sys
        from rayka.persistence import SqliteJournal
        journal = SqliteJournal(sys.argv[1])
        pending, i = collections.deque(), 0
        while True:
            i += 1
            pending.append(journal.append("account", [b"event-%d" % i]))
            if len(pending) >= 64:
                sys.stdout.write(f"{pending.popleft().result()}\\n")
                sys.stdout.flush()
    """
    proc = spawn(script, path)
    assert proc.stdout is not None
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= 3000:
            break
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()  # through the same buffer as the loop: no line lost
    proc.wait(timeout=10)
    acknowledged += [int(line) for line in rest.splitlines(keepends=True) if line.endswith("\n")]
    assert proc.returncode == -signal.SIGKILL

    with SqliteJournal(path) as journal:
        events = journal.read("account")
    assert acknowledged == list(range(1, len(acknowledged) + 1))
    assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
    assert len(events) >= acknowledged[-1]
    assert all(payload == b"event-%d" % seq for seq, payload in events)


# ------------------------------------------------------------ refusing to open


def test_a_file_that_is_not_sqlite_is_refused_with_journal_error(path: str) -> None:
    Path(path).write_bytes(b"these are not the pages you are looking for" * 100)

    with pytest.raises(JournalError, match="not an SQLite database") as caught:
        SqliteJournal(path)
    assert path in str(caught.value)


def test_an_sqlite_file_with_damaged_pages_is_refused_with_journal_error(path: str) -> None:
    Path(path).write_bytes(b"SQLite format 3\x00" + os.urandom(8192))

    with pytest.raises(JournalError, match="move it aside") as caught:
        SqliteJournal(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_an_sqlite_database_of_another_application_is_refused(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers(name TEXT)")
    conn.close()

    with pytest.raises(JournalError, match="not a rayka journal.*customers"):
        SqliteJournal(path)


def test_a_journal_of_another_format_version_is_refused(path: str) -> None:
    SqliteJournal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (FORMAT_VERSION + 1,))
    conn.close()

    with pytest.raises(JournalError, match=f"version {FORMAT_VERSION + 1}"):
        SqliteJournal(path)


def test_a_journal_held_by_another_process_is_refused_at_once(path: str, spawn: Spawn) -> None:
    script = """if True:
        import sys
        from rayka.persistence import SqliteJournal
        with SqliteJournal(sys.argv[1]) as journal:
            journal.append("a", [b"x"]).result()
            print("ready", flush=True)
            sys.stdin.read()
    """
    holder = spawn(script, path)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "ready\n"

    started = time.monotonic()
    with pytest.raises(JournalError, match=f"another writer \\(pid {holder.pid}"):
        SqliteJournal(path)
    assert time.monotonic() - started < 1.0

    holder.stdin.close()
    assert holder.wait(timeout=10) == 0
    with SqliteJournal(path) as journal:
        assert journal.read("a") == [(1, b"x")]


def test_a_second_journal_on_the_same_file_in_one_process_is_refused(journal: SqliteJournal) -> None:
    with pytest.raises(JournalError, match="in use"):
        SqliteJournal(journal.path)


# ------------------------------------------------------ snapshots and deletion


def test_the_latest_snapshot_is_loaded_and_older_ones_are_dropped(journal: SqliteJournal, path: str) -> None:
    assert journal.load_snapshot("a") is None
    journal.save_snapshot("a", 3, b"three")
    journal.save_snapshot("a", 10, b"ten").result(timeout=10)

    assert journal.load_snapshot("a") == (10, b"ten")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (1,)
    conn.close()


def test_delete_up_to_drops_old_events_and_never_reuses_their_numbers(path: str) -> None:
    with SqliteJournal(path) as journal:
        journal.append("q", [b"%d" % i for i in range(1, 11)])
        assert journal.delete_up_to("q", 4).result(timeout=10) == 4
        assert journal.read("q") == [(i, b"%d" % i) for i in range(5, 11)]
        assert journal.delete_up_to("q", 99).result(timeout=10) == 6
        assert journal.read("q") == []
        assert journal.highest_seq("q") == 10

    with SqliteJournal(path) as journal:
        assert journal.highest_seq("q") == 10
        assert journal.append("q", [b"11"]).result(timeout=10) == 11
        assert journal.read("q") == [(11, b"11")]


# ------------------------------------------------------------- write failures


def test_an_io_error_during_commit_fails_every_future_of_its_group(path: str, spawn: Spawn) -> None:
    script = """if True:
        import json, os, resource, signal, sys
        from rayka.persistence import SqliteJournal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        path = sys.argv[1]
        journal = SqliteJournal(path, group_window=0.3)
        journal.append("warm", [b"w"]).result()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        largest = max(os.path.getsize(path + suffix) for suffix in ("", "-wal"))
        resource.setrlimit(resource.RLIMIT_FSIZE, (largest + 1024, hard))
        futures = [journal.append("big", [bytes(20_000)]) for _ in range(40)]
        outcomes = []
        for future in futures:
            error = future.exception(timeout=20)
            outcomes.append(None if error is None else [type(error).__name__, type(error.__cause__).__name__])
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        after = journal.append("after", [b"fine"]).result(timeout=20)
        print(json.dumps({"outcomes": outcomes, "after": after, "failed": journal.statistics().failed}))
        journal.close()
    """
    proc = spawn(script, path)
    out, _ = proc.communicate(timeout=50)
    assert proc.returncode == 0
    report = json.loads(out)

    assert report["outcomes"] == [["JournalError", "OperationalError"]] * 40
    assert report["failed"] == 40
    assert report["after"] == 1
    with SqliteJournal(path) as journal:
        assert journal.highest_seq("big") == 0
        assert journal.read("warm") == [(1, b"w")]
        assert journal.read("after") == [(1, b"fine")]


def test_a_request_that_cannot_be_written_fails_alone_and_spares_its_group(path: str) -> None:
    SqliteJournal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.persistence_id = 'poison'"
            " BEGIN SELECT RAISE(ABORT, 'poisoned event'); END"
        )
    conn.close()

    with SqliteJournal(path, group_window=0.2) as journal:
        futures = [journal.append(pid, [b"x"]) for pid in ("a", "poison", "b", "a")]
        error = futures[1].exception(timeout=10)
        assert isinstance(error, JournalError)
        assert isinstance(error.__cause__, sqlite3.IntegrityError)
        assert "poisoned event" in str(error)
        assert [futures[i].result(timeout=10) for i in (0, 2, 3)] == [1, 1, 2]
        assert journal.statistics().failed == 1
        assert journal.append("a", [b"y"]).result(timeout=10) == 3
        assert journal.highest_seq("poison") == 0


# ------------------------------------------------------------------ encoding


def test_encode_and_decode_round_trip_builtins_tuples_and_arbitrary_objects() -> None:
    value = {"n": [1, 2.5, None, True, b"raw"], "t": ("add", (1, 2)), 3: JournalStatistics(commits=2)}

    assert decode(encode(value)) == value
    assert type(decode(encode(("a", 1)))) is tuple
