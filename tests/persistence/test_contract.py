"""The journal contract: the same tests against SqliteJournal and PostgresJournal (a real server)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from rayka._errors import JournalError, SerializationError
from rayka.persistence import Journal, JournalStatistics, encode
from tests.persistence.conftest import Spawn
from tests.persistence.journals import damage, open_spec

pytestmark = pytest.mark.timeout(60)

Make = Callable[..., Journal]


@pytest.fixture(params=["sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """Where the journal of this test lives: ``sqlite:<path>`` or ``postgres:<dsn>#<schema>``."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'journal.db'}"
    server = request.getfixturevalue("postgres")
    return f"postgres:{server.dsn}#{request.getfixturevalue('postgres_schema')}"


@pytest.fixture
def make(spec: str) -> Iterator[Make]:
    """Open the test's journal (again); every journal opened is closed at the end."""
    opened: list[Journal] = []

    def open_journal(**options: Any) -> Journal:
        journal = open_spec(spec, **options)
        opened.append(journal)
        return journal

    yield open_journal
    for journal in opened:
        journal.close()


@pytest.fixture
def journal(make: Make) -> Journal:
    return make()


def wait_all(futures: list[Future[int]]) -> list[int]:
    return [future.result(timeout=10) for future in futures]


def test_both_journals_satisfy_the_protocol(journal: Journal) -> None:
    assert isinstance(journal, Journal)
    assert journal.name and not journal.closed


# ------------------------------------------------------------------ sequences


def test_appended_events_read_back_in_order_with_contiguous_sequence_numbers(journal: Journal) -> None:
    assert journal.append("a", [b"one"]).result(timeout=10) == 1
    assert journal.append("a", [b"two", b"three", bytearray(b"four")]).result(timeout=10) == 4

    assert journal.read("a") == [(1, b"one"), (2, b"two"), (3, b"three"), (4, b"four")]
    assert journal.read("a", 3) == [(3, b"three"), (4, b"four")]
    assert journal.read("a", 2, 3) == [(2, b"two"), (3, b"three")]
    assert journal.read("a", limit=1) == [(1, b"one")]
    assert journal.highest_seq("a") == 4


def test_each_persistence_id_counts_its_own_sequence_from_one(journal: Journal) -> None:
    futures = [journal.append(pid, [b"x"]) for pid in ("a", "b", "a", "c", "b", "a")]

    assert wait_all(futures) == [1, 1, 2, 1, 2, 3]
    assert journal.highest_seq("nobody") == 0
    assert journal.read("nobody") == []


def test_an_empty_append_resolves_to_the_current_highest_sequence_number(journal: Journal) -> None:
    assert journal.append("a", []).result(timeout=10) == 0
    journal.append("a", [b"x", b"y"])

    assert journal.append("a", []).result(timeout=10) == 2


def test_a_payload_that_is_not_bytes_is_refused_at_once(journal: Journal) -> None:
    with pytest.raises(TypeError, match="bytes"):
        journal.append("a", [b"ok", "text"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="persistence_id"):
        journal.append("", [b"x"])

    assert journal.append("a", [b"ok"]).result(timeout=10) == 1


def test_threads_appending_concurrently_get_unique_contiguous_sequence_numbers(journal: Journal) -> None:
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


def test_appends_queued_during_a_commit_share_the_next_commit(make: Make) -> None:
    with make(group_window=0.2) as journal:
        slow = journal.append("bulk", [bytes(1000)] * 10_000)  # keeps the writer busy while the rest queue up
        futures = [journal.append(f"actor-{i % 7}", [b"e" * 10, b"f" * 5]) for i in range(200)]
        wait_all([slow, *futures])
        stats = journal.statistics()

    assert stats.appends == 201
    assert stats.events == 10_000 + 400
    assert stats.bytes == 10_000 * 1000 + 200 * 15
    assert stats.commits <= 3, stats


def test_appends_within_the_group_window_are_grouped(make: Make) -> None:
    with make(group_window=0.2) as journal:
        wait_all([journal.append("a", [b"x"]) for _ in range(200)])
        stats = journal.statistics()

    assert stats.appends == 200
    assert stats.commits <= 40, stats


def test_max_group_bounds_the_appends_in_one_commit(make: Make) -> None:
    with make(group_window=0.2, max_group=10) as journal:
        wait_all([journal.append("a", [b"x"]) for _ in range(100)])
        stats = journal.statistics()

    assert stats.appends == 100
    assert stats.commits >= 10


def test_sync_always_commits_every_append_on_its_own(make: Make) -> None:
    with make(sync="always") as journal:
        assert wait_all([journal.append("a", [b"x", b"y"]) for _ in range(30)])[-1] == 60
        stats = journal.statistics()

    assert stats == JournalStatistics(appends=30, commits=30, events=60, bytes=60, failed=0)


def test_statistics_are_a_frozen_record(journal: Journal) -> None:
    stats = journal.statistics()

    assert stats == JournalStatistics()
    with pytest.raises(FrozenInstanceError):
        stats.commits = 1  # type: ignore[misc]


def test_an_append_cancelled_before_the_writer_takes_it_is_not_written(journal: Journal) -> None:
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


def test_reopening_a_closed_journal_recovers_every_event_and_continues_the_sequence(make: Make) -> None:
    with make(sync="off") as journal:
        wait_all([journal.append(f"p{i % 3}", [str(i).encode()]) for i in range(30)])
        journal.save_snapshot("p0", 5, b"state").result(timeout=10)

    with make() as journal:
        assert [payload for _, payload in journal.read("p1")] == [str(i).encode() for i in range(1, 30, 3)]
        assert journal.load_snapshot("p0") == (5, b"state")
        assert journal.append("p1", [b"next"]).result(timeout=10) == 11


def test_close_commits_everything_queued_before_it(make: Make) -> None:
    journal = make(group_window=0.05, max_group=7)
    futures = [journal.append("a", [b"x"]) for _ in range(500)]
    journal.close()

    assert all(future.done() for future in futures)
    assert wait_all(futures) == list(range(1, 501))
    with make() as reopened:
        assert reopened.highest_seq("a") == 500


def test_append_after_close_raises_journal_error(make: Make) -> None:
    journal = make()
    journal.close()
    journal.close()

    assert journal.closed
    with pytest.raises(JournalError, match="closed"):
        journal.append("a", [b"x"])
    with pytest.raises(JournalError, match="closed"):
        journal.read("a")


def test_every_acknowledged_event_survives_a_sigkill_of_the_writing_process(make: Make, spec: str, spawn: Spawn) -> None:
    script = """if True:
        import collections, sys
        from tests.persistence.journals import open_spec
        journal = open_spec(sys.argv[1])
        pending, i = collections.deque(), 0
        while True:
            i += 1
            pending.append(journal.append("account", [b"event-%d" % i]))
            if len(pending) >= 64:
                sys.stdout.write(f"{pending.popleft().result()}\\n")
                sys.stdout.flush()
    """
    proc = spawn(script, spec)
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

    with make() as journal:
        events = journal.read("account")
    assert acknowledged == list(range(1, len(acknowledged) + 1))
    assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
    assert len(events) >= acknowledged[-1]
    assert all(payload == b"event-%d" % seq for seq, payload in events)


def test_the_latest_snapshot_is_loaded_and_older_ones_are_dropped(journal: Journal) -> None:
    assert journal.load_snapshot("a") is None
    journal.save_snapshot("a", 3, b"three")
    journal.save_snapshot("a", 10, b"ten").result(timeout=10)

    assert journal.load_snapshot("a") == (10, b"ten")
    assert journal.recover("a").snapshot == (10, b"ten")


def test_delete_up_to_drops_old_events_and_never_reuses_their_numbers(make: Make) -> None:
    with make() as journal:
        journal.append("q", [b"%d" % i for i in range(1, 11)])
        assert journal.delete_up_to("q", 4).result(timeout=10) == 4
        assert journal.read("q") == [(i, b"%d" % i) for i in range(5, 11)]
        assert journal.delete_up_to("q", 99).result(timeout=10) == 6
        assert journal.read("q") == []
        assert journal.highest_seq("q") == 10

    with make() as journal:
        assert journal.highest_seq("q") == 10
        assert journal.append("q", [b"11"]).result(timeout=10) == 11
        assert journal.read("q") == [(11, b"11")]


# ----------------------------------------------------- recovery and damage


def test_recover_returns_the_snapshot_and_the_events_after_it(journal: Journal) -> None:
    journal.append("acc", [encode(i) for i in range(1, 8)])
    journal.save_snapshot("acc", 5, encode("state-at-5"))
    journal.append("acc", [encode(8)])  # queued, not awaited: recover waits for it

    found = journal.recover("acc")

    assert found.state() == (5, "state-at-5")
    assert list(found.replay()) == [(6, 6), (7, 7), (8, 8)]
    assert found.highest_seq == 8
    assert journal.recover("nobody").events == [] and journal.recover("nobody").snapshot is None


def test_recover_after_deleting_events_starts_after_the_deleted_ones(journal: Journal) -> None:
    journal.append("q", [encode(i) for i in range(1, 11)])
    journal.save_snapshot("q", 6, encode("s6"))
    journal.delete_up_to("q", 6).result(timeout=10)

    found = journal.recover("q")
    assert [seq for seq, _ in found.events] == [7, 8, 9, 10]


@pytest.mark.parametrize("lost", [[3], [3, 4], [10]])
def test_a_gap_in_the_numbers_fails_recovery_naming_the_id_and_the_gap(
        journal: Journal, spec: str, lost: list[int]) -> None:
    journal.append("acc", [encode(i) for i in range(1, 11)]).result(timeout=10)
    for seq in lost:
        damage(spec, "DELETE FROM {t}events WHERE persistence_id = ? AND seq = ?", ("acc", seq))

    with pytest.raises(JournalError, match=rf"'acc' has a gap: .*{lost[0]}") as failure:
        journal.recover("acc")
    assert journal.name in str(failure.value)


def test_a_payload_that_cannot_be_decoded_fails_recovery_with_the_cause_chained(journal: Journal, spec: str) -> None:
    journal.append("acc", [encode(("add", i)) for i in range(1, 4)]).result(timeout=10)
    damage(spec, "UPDATE {t}events SET payload = ? WHERE persistence_id = 'acc' AND seq = 2", (b"\xc1\xff\x00",))

    found = journal.recover("acc")
    with pytest.raises(JournalError, match="event 2 of 'acc' cannot be decoded") as failure:
        list(found.replay())
    assert isinstance(failure.value.__cause__, SerializationError)


def test_a_second_writer_of_a_persistence_id_gets_journal_error_at_once(make: Make) -> None:
    first = make()
    first.append("acc", [b"one"]).result(timeout=10)
    started = time.monotonic()
    with pytest.raises(JournalError, match="another"):
        second = make()  # SQLite refuses the file; PostgreSQL refuses the persistence id
        second.append("acc", [b"two"]).result(timeout=10)
    assert time.monotonic() - started < 5
    assert first.append("acc", [b"three"]).result(timeout=10) == 2
    first.close()
    assert make().append("acc", [b"four"]).result(timeout=10) == 3  # the writer is gone: the id is free


@pytest.mark.parametrize("group", [1, 5, 200])  # small groups and big ones are written differently
def test_any_bytes_come_back_exactly(journal: Journal, group: int) -> None:
    import os

    payloads = [b"", b"\x00\n\\\t\r", b"\\x41", os.urandom(70_000)] + [os.urandom(n) for n in range(group)]
    journal.append("raw", payloads).result(timeout=10)

    assert [payload for _, payload in journal.read("raw")] == payloads
