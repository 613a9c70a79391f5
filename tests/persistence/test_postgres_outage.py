"""The PostgreSQL server killed under a running durable queue (``pg_ctl stop -m immediate``), then started again."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import rayka
from rayka import JournalError, OneForOne
from rayka.patterns import Consumer, Drain, Put, WorkQueue
from rayka.persistence import PostgresJournal

pytestmark = pytest.mark.timeout(180)

ITEMS = 600


class Keeper(rayka.Actor):
    """Supervises the queue: restarts it as often as needed, with a backoff, as a database outage needs."""

    supervisor_strategy = OneForOne(max_restarts=None).with_backoff(min=0.05, max=0.5, jitter=0.1)

    def __init__(self, journal: PostgresJournal) -> None:
        self.journal = journal

    def on_start(self) -> None:
        self.queue = self.context.spawn(WorkQueue, 1000, journal=self.journal, persistence_id="jobs",
                                        name="queue")

    def receive(self, message: Any) -> Any:
        return self.queue


class Recorder(Consumer):
    window = 16

    def __init__(self, queue: rayka.ActorRef, handled: list, lock: threading.Lock) -> None:
        super().__init__(queue)
        self.handled, self.lock = handled, lock

    def handle(self, work: Any) -> None:
        with self.lock:
            self.handled.append(work)


def test_a_killed_server_fails_the_writes_loses_nothing_acknowledged_and_the_queue_resumes(
        postgres: Any, postgres_schema: str) -> None:
    if getattr(postgres, "port", None) is None:
        pytest.skip("RAYKA_TEST_POSTGRES names a server this test must not stop")
    handled: list = []
    lock = threading.Lock()
    failures: list[BaseException] = []
    confirmed: list[int] = []
    with PostgresJournal(postgres.dsn, schema=postgres_schema, connect_timeout=2) as journal, \
            rayka.ActorSystem("outage") as system:
        keeper = system.spawn(Keeper, journal)
        queue = keeper.ask("queue").result(timeout=10)
        system.spawn(Recorder, queue, handled, lock)
        for item in range(ITEMS):
            if item == ITEMS // 3:
                postgres.stop("immediate")  # a crash of the server: no shutdown checkpoint
            while True:
                try:
                    queue.ask(Put(item), timeout=10).result()
                    confirmed.append(item)
                    break
                except (rayka.RaykaError, TimeoutError) as error:  # refused while the database is away
                    failures.append(error)
                    if len(failures) == 1:
                        postgres.start()  # the first failure seen: bring the server back
                    assert len(failures) < 500, failures[-3:]
        queue.ask(Drain(), timeout=60).result()  # everything accepted is acknowledged
    assert confirmed == list(range(ITEMS))  # the queue resumed: every item was accepted in the end
    assert any(isinstance(error, JournalError) or isinstance(error.__cause__, JournalError) for error in failures)
    assert set(handled) == set(range(ITEMS))  # nothing accepted was lost (a put that failed may come twice)
