"""The durable work queue: recovery on the same journal, and a process killed with SIGKILL mid-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import rayka
from rayka.patterns import Ack, Deliveries, Drain, GetQueueStatistics, Pull, PutMany, WorkQueue
from rayka.persistence import SqliteJournal, decode
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("durable_queue_script.py")


class Taker(rayka.Actor):
    """Pulls ``window`` deliveries, acknowledges the ones with id in ``ack``, forwards all to a probe."""

    def __init__(self, queue: rayka.ActorRef, window: int, ack: set[int], probe: rayka.ActorRef) -> None:
        self.queue, self.window, self.ack, self.probe = queue, window, ack, probe

    def on_start(self) -> None:
        self.queue.tell(Pull(self.window), self.context.self)

    async def receive(self, message: Any) -> None:
        if isinstance(message, Deliveries):
            ids = tuple(d.id for d in message.batch if d.id in self.ack)
            if ids:
                await self.queue.ask(Ack(ids))  # answered once the acks are on disk
            for delivery in message.batch:
                self.probe.tell(delivery)


def test_a_durable_queue_started_again_delivers_exactly_the_unacknowledged_work(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.db")
    with SqliteJournal(path) as journal, rayka.ActorSystem("first") as system:
        queue = system.spawn(WorkQueue, 100, journal=journal, persistence_id="jobs")
        assert queue.ask(PutMany(tuple(f"job-{n}" for n in range(10)))).result(timeout=5) == list(range(1, 11))
        probe = TestProbe(system)
        system.spawn(Taker, queue, 10, {2, 4, 6, 8}, probe.ref)
        assert len(probe.expect_n(10)) == 10
    with SqliteJournal(path) as journal, rayka.ActorSystem("second") as system:
        queue = system.spawn(WorkQueue, 100, journal=journal, persistence_id="jobs")
        s = queue.ask(GetQueueStatistics()).result(timeout=5)
        assert (s.pending, s.in_flight) == (6, 0)
        probe = TestProbe(system)
        system.spawn(Taker, queue, 10, set(range(100)), probe.ref)
        again = probe.expect_n(6)
        assert [(d.id, d.work, d.attempt) for d in again] == [
            (i, f"job-{i - 1}", 2) for i in (1, 3, 5, 7, 9, 10)]
        assert queue.ask(Drain()).result(timeout=5) == 6
        assert queue.ask(PutMany(("next",))).result(timeout=5) == [11]  # ids go on where they stopped


def test_snapshots_compact_the_journal_and_recovery_still_finds_everything(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.db")
    with SqliteJournal(path) as journal, rayka.ActorSystem("first") as system:
        queue = system.spawn(WorkQueue, 1000, journal=journal, persistence_id="jobs", snapshot_every=5)
        for start in range(0, 200, 10):
            queue.ask(PutMany(tuple(range(start, start + 10)))).result(timeout=5)
        for i in range(1, 150):
            queue.ask(Ack(i)).result(timeout=5)
        for _ in range(2):  # the writer is past the last snapshot, then past the deletion it queued
            journal.append("barrier", []).result(timeout=5)
        assert len(journal.read("jobs")) < 10
    with SqliteJournal(path) as journal, rayka.ActorSystem("second") as system:
        queue = system.spawn(WorkQueue, 1000, journal=journal, persistence_id="jobs", snapshot_every=5)
        assert queue.ask(GetQueueStatistics()).result(timeout=5).pending == 51
        assert queue.ask(PutMany(("x",))).result(timeout=5) == [201]


def run_script(path: str, mode: str, lines: list[str], stop: threading.Event | None = None,
               until: Any = None, *options: str) -> tuple[subprocess.Popen[str], threading.Thread]:
    """Start the script; a thread appends its output lines (split) to ``lines`` and sets ``stop``
    when ``until(lines)`` holds, and again at the end of the output."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(SCRIPT), path, mode, *options], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.split())
            if until is not None and stop is not None and until(lines):
                stop.set()
        if stop is not None:
            stop.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return process, reader


def journal_ids(path: str) -> tuple[list[int], list[int]]:
    """Read the queue's log straight from the file: the ids of every put event and of every ack event."""
    accepted: list[int] = []
    acked: list[int] = []
    with SqliteJournal(path) as journal:
        for _, payload in journal.read("jobs"):
            event = decode(payload)
            if event[0] == "put":
                accepted.extend(range(event[1], event[1] + len(event[2])))
            else:
                acked.extend(event[1])
    return accepted, acked


def test_a_durable_queue_killed_mid_run_loses_nothing_and_redoes_nothing_acknowledged(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.db")
    first: list = []
    enough = threading.Event()

    def busy(lines: list) -> bool:
        kinds = Counter(line[0] for line in lines)
        return kinds["ACK"] >= 500 and kinds["PUT"] >= 500

    producer, reader = run_script(path, "produce", first, enough, busy)
    try:
        assert enough.wait(40), f"the producing run printed only {len(first)} lines"
    finally:
        os.kill(producer.pid, signal.SIGKILL)
        producer.wait(10)
    assert producer.returncode == -signal.SIGKILL
    reader.join(10)  # what it printed before it died
    accepted, acked = journal_ids(path)
    put_confirmed = {int(line[1]): int(line[2]) for line in first if line[0] == "PUT"}
    ack_confirmed = [int(line[1]) for line in first if line[0] == "ACK"]
    assert set(put_confirmed) <= set(accepted) and set(ack_confirmed) <= set(acked)  # a confirmation is true
    assert len(acked) == len(set(acked)) and set(acked) <= set(accepted)
    unacknowledged = set(accepted) - set(acked)
    assert unacknowledged  # killed mid-run, with work in flight

    second: list = []
    drained = threading.Event()
    drainer, reader = run_script(path, "drain", second, drained)
    assert drained.wait(40) and drainer.wait(10) == 0, drainer.stderr.read() if drainer.stderr else ""
    reader.join(10)
    assert second[-1] == ["DONE", str(len(unacknowledged))]
    got = {int(line[1]): (int(line[2]), int(line[3])) for line in second if line[0] == "GOT"}
    assert set(got) == unacknowledged  # every accepted, unacknowledged work again, and nothing acknowledged
    assert all(work == i - 1 and attempt >= 2 for i, (work, attempt) in got.items())
    assert {int(line[1]) for line in second if line[0] == "ACK"} == unacknowledged

    accepted, acked = journal_ids(path)
    assert len(acked) == len(set(acked))  # nothing acknowledged twice
    assert sorted(acked) == sorted(accepted) == list(range(1, len(accepted) + 1))  # sent = acknowledged, by id

    third: list = []
    done = threading.Event()
    again, reader = run_script(path, "drain", third, done)
    assert done.wait(40) and again.wait(10) == 0
    reader.join(10)
    assert third == [["DONE", "0"]]


def test_a_durable_queue_killed_while_it_compacts_its_log_recovers_exactly(tmp_path: Path) -> None:
    path = str(tmp_path / "queue.db")
    first: list = []
    enough = threading.Event()
    producer, reader = run_script(path, "produce", first, enough,
                                  lambda lines: sum(line[0] == "ACK" for line in lines) >= 800, "50")
    try:
        assert enough.wait(40)
    finally:
        os.kill(producer.pid, signal.SIGKILL)
        producer.wait(10)
    reader.join(10)
    put_confirmed = {int(line[1]) for line in first if line[0] == "PUT"}
    ack_confirmed = {int(line[1]) for line in first if line[0] == "ACK"}
    handled_first = {int(line[1]) for line in first if line[0] == "GOT"}
    with SqliteJournal(path) as journal:
        assert journal.load_snapshot("jobs") is not None
        tail = journal.read("jobs")
        assert len(tail) < journal.highest_seq("jobs") - 50  # compacted: the events a snapshot covers are gone

    second: list = []
    drained = threading.Event()
    drainer, reader = run_script(path, "drain", second, drained, None, "50")
    assert drained.wait(40) and drainer.wait(10) == 0
    reader.join(10)
    got = {int(line[1]) for line in second if line[0] == "GOT"}
    assert got and not got & ack_confirmed  # work in flight comes back; acknowledged work never does
    # every accepted work was handled in the first run (its ack may have reached the disk unreported) or now
    assert put_confirmed <= handled_first | got
    assert second[-1] == ["DONE", str(len(got))]


def test_a_queue_given_a_journal_path_recovers_when_started_again_and_consumers_find_it_by_name(tmp_path) -> None:
    import threading

    import rayka
    from rayka.patterns import Consumer, Drain, Put, WorkQueue

    path = str(tmp_path / "named.db")
    handled: list = []
    got_all = threading.Event()

    class Keep(Consumer):
        window = 4

        def handle(self, work):
            handled.append(work)
            if len(set(handled)) == 20:
                got_all.set()

    with rayka.ActorSystem("named") as system:
        first = system.spawn(WorkQueue, 100, journal=path, name="jobs")
        for i in range(10):
            first.ask(Put(i), timeout=10).result()
        first.stop()
        assert system.wait_terminated(first, timeout=10)  # its journal is closed: the file is free again
        consumer = system.spawn(Keep, "jobs")  # the queue is not there yet: it keeps looking
        second = system.spawn(WorkQueue, 100, journal=path, name="jobs")
        for i in range(10, 20):
            second.ask(Put(i), timeout=10).result()
        assert got_all.wait(10)
        second.ask(Drain(), timeout=10).result()
        assert consumer.is_alive
    assert set(handled) == set(range(20))


class StopsItself(WorkQueue):
    def receive(self, message: Any) -> Any:
        if message == "stop":
            self.context.stop()  # puts handled just before are gathered, not yet written
            return None
        return super().receive(message)


def test_every_put_answered_before_a_stop_is_recovered_and_none_other(tmp_path: Path) -> None:
    from rayka.patterns import Put

    path = str(tmp_path / "stop.db")
    with rayka.ActorSystem("stopping") as system:
        first = system.spawn(StopsItself, 1000, journal=path, name="jobs")
        puts = [first.ask(Put(n), timeout=10) for n in range(300)]
        first.tell("stop")
        puts += [first.ask(Put(n), timeout=10) for n in range(300, 400)]  # after the stop: refused
        answered = {}
        for n, put in enumerate(puts):
            try:
                answered[put.result(timeout=10)] = n
            except rayka.ActorStopped:
                assert n >= 300
        assert len(answered) == 300  # written on the way out, and answered
        assert system.wait_terminated(first, timeout=10)
        probe = TestProbe(system)
        second = system.spawn(WorkQueue, 1000, journal=path, name="jobs")
        system.spawn(Taker, second, 1000, set(), probe.ref)
        recovered = {d.id: d.work for d in probe.expect_n(len(answered))}
        probe.expect_no_message(0.1)
        assert recovered == answered


def test_a_journal_file_deleted_under_a_running_queue_is_never_acknowledged_past_nor_silently_recreated(
        tmp_path: Path) -> None:
    from rayka import JournalError, OneForOne

    class Keeper(rayka.Actor):
        supervisor_strategy = OneForOne(max_restarts=2, within=60)

        def __init__(self, path: str) -> None:
            self.path = path

        def on_start(self) -> None:
            self.queue = self.context.spawn(WorkQueue, 1000, journal=self.path, persistence_id="jobs")

        def receive(self, message: Any) -> Any:
            return self.queue

    path = str(tmp_path / "queue.db")
    with rayka.ActorSystem("deleted") as system:
        probe = TestProbe(system)
        queue = system.spawn(Keeper, path).ask("queue").result(timeout=5)
        probe.watch(queue)
        assert queue.ask(PutMany(tuple(range(100)))).result(timeout=5) == list(range(1, 101))
        os.remove(path)
        with pytest.raises(JournalError, match="deleted or replaced"):
            queue.ask(PutMany(("lost",))).result(timeout=5)
        assert probe.expect(rayka.Terminated, timeout=10).ref == queue  # restarts fail: the file is gone
    assert not os.path.exists(path)  # no new, empty journal was made in its place
    with pytest.raises(JournalError, match="lock file"):
        SqliteJournal(path)
