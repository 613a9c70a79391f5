"""Persistent actors: persist before the state changes, recover from events and snapshots."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import rayka
from rayka._errors import JournalError
from rayka.patterns import PersistentActor
from rayka.persistence import SqliteJournal, decode, encode
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


class Account(PersistentActor):
    snapshot_every = 10

    def __init__(self, journal: SqliteJournal, name: str = "account-1") -> None:
        super().__init__(journal, name)
        self.balance = 0
        self.applied = 0

    def apply(self, event: Any) -> None:
        self.balance += event["amount"]
        self.applied += 1

    def snapshot(self) -> Any:
        return {"balance": self.balance}

    def restore(self, state: Any) -> None:
        self.balance = state["balance"]

    async def receive(self, message: Any) -> Any:
        match message:
            case ("deposit", amount):
                return await self.persist({"amount": amount})
            case ("withdraw", amount) if amount > self.balance:
                raise ValueError(f"balance {self.balance} is less than {amount}")
            case ("withdraw", amount):
                return await self.persist({"amount": -amount})
            case "state":
                return self.balance, self.seq, self.applied


def test_events_are_on_disk_before_the_state_changes_and_come_back_on_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    with SqliteJournal(path) as journal, rayka.ActorSystem("first") as system:
        account = system.spawn(Account, journal)
        assert account.ask(("deposit", 100)).result(timeout=5) == 1
        assert [decode(p) for _, p in journal.read("account-1")] == [{"amount": 100}]  # written when answered
        account.ask(("withdraw", 30)).result(timeout=5)
        with pytest.raises(ValueError):
            account.ask(("withdraw", 500)).result(timeout=5)
        assert account.ask("state").result(timeout=5) == (70, 2, 2)
    with SqliteJournal(path) as journal, rayka.ActorSystem("second") as system:
        account = system.spawn(Account, journal)
        assert account.ask("state").result(timeout=5) == (70, 2, 2)


def test_recovery_starts_from_the_latest_snapshot(tmp_path: Path) -> None:
    path = str(tmp_path / "events.db")
    with SqliteJournal(path) as journal, rayka.ActorSystem("first") as system:
        account = system.spawn(Account, journal)
        for _ in range(25):
            account.tell(("deposit", 1))
        assert account.ask("state").result(timeout=5) == (25, 25, 25)
        journal.append("barrier", []).result(timeout=5)
        assert journal.load_snapshot("account-1")[0] == 20
    with SqliteJournal(path) as journal, rayka.ActorSystem("second") as system:
        account = system.spawn(Account, journal)
        assert account.ask("state").result(timeout=5) == (25, 25, 5)  # 5 events after the snapshot


def test_a_restarted_persistent_actor_recovers_its_state(tmp_path: Path) -> None:
    class Fragile(Account):
        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise RuntimeError("crash")
            return await super().receive(message)

    with SqliteJournal(str(tmp_path / "events.db")) as journal, rayka.ActorSystem("s") as system:
        account = system.spawn(Fragile, journal)
        account.ask(("deposit", 7)).result(timeout=5)
        with pytest.raises(RuntimeError):
            account.ask("crash").result(timeout=5)
        assert account.ask("state").result(timeout=5) == (7, 1, 1)


def test_an_event_that_cannot_be_written_fails_the_ask_and_leaves_the_state_unchanged(tmp_path: Path) -> None:
    journal = SqliteJournal(str(tmp_path / "events.db"))
    with rayka.ActorSystem("s") as system:
        account = system.spawn(Account, journal)
        account.ask(("deposit", 5)).result(timeout=5)
        with pytest.raises(rayka.SerializationError, match="lock"):
            account.ask(("deposit", threading.Lock())).result(timeout=5)  # cannot be serialized
        assert account.ask("state").result(timeout=5) == (5, 1, 1)
        journal.close()
        with pytest.raises(JournalError, match="closed"):
            account.ask(("deposit", 5)).result(timeout=5)


class PlainReceive(Account):
    def receive(self, message: Any) -> Any:  # not async: nothing would await persist()
        if message == "state":
            return self.balance, self.seq, self.applied
        return self.persist({"amount": message})


def test_persist_from_a_plain_receive_fails_the_message_with_a_clear_error_and_writes_nothing(
        tmp_path: Path) -> None:
    with SqliteJournal(str(tmp_path / "events.db")) as journal, rayka.ActorSystem("s") as system:
        account = system.spawn(PlainReceive, journal, "plain")
        with pytest.raises(TypeError, match=r"PlainReceive at /user/\$\d+: persist\(\) must be awaited"):
            account.ask(5).result(timeout=5)
        assert account.ask("state").result(timeout=5) == (0, 0, 0)  # restarted, recovered: nothing was written
        assert list(journal.read("plain", 1)) == []


class Counted(Account):
    built = 0

    def __init__(self, journal: Any, name: str = "account-1") -> None:
        type(self).built += 1
        super().__init__(journal, name)


@pytest.mark.parametrize("damage", ["gap", "payload"])
def test_an_actor_whose_recovery_fails_stops_with_the_journal_error_and_is_not_restarted(
        tmp_path: Path, damage: str) -> None:
    import sqlite3

    path = str(tmp_path / "events.db")
    with SqliteJournal(path) as journal:
        journal.append("account-1", [encode({"amount": n}) for n in range(1, 6)]).result(timeout=5)
    with sqlite3.connect(path) as conn:
        if damage == "gap":
            conn.execute("DELETE FROM events WHERE seq = 3")
        else:
            conn.execute("UPDATE events SET payload = x'c1' WHERE seq = 3")
    conn.close()

    Counted.built = 0
    with rayka.ActorSystem("damaged") as system:
        probe = TestProbe(system)
        account = system.spawn(Counted, path)
        probe.watch(account)
        with pytest.raises(rayka.ActorStopped) as failure:
            account.ask("state").result(timeout=5)
        assert probe.expect(rayka.Terminated, timeout=5).ref == account
    cause = failure.value.__cause__
    assert isinstance(cause, JournalError) and "'account-1'" in str(cause)
    assert ("gap" in str(cause)) if damage == "gap" else ("cannot be decoded" in str(cause))
    assert Counted.built == 1  # stopped, not restarted into the same failure


def test_a_persistent_actor_given_a_dsn_recovers_from_postgresql(postgres: Any, postgres_schema: str) -> None:
    from rayka.persistence import PostgresJournal

    with PostgresJournal(postgres.dsn, schema=postgres_schema) as journal, rayka.ActorSystem("pg") as system:
        account = system.spawn(Account, journal, "pg-account")
        for amount in range(1, 26):
            account.ask(("deposit", amount)).result(timeout=5)
        account.stop()
        system.wait_terminated(account, timeout=5)
        again = system.spawn(Account, journal, "pg-account")
        assert again.ask("state").result(timeout=5) == (325, 25, 5)  # the snapshot at 20, then 5 events


def test_an_event_nested_too_deep_is_refused_at_persist_and_nothing_is_written(tmp_path: Path) -> None:
    deep: Any = 1
    for _ in range(250):
        deep = (deep,)
    path = str(tmp_path / "events.db")
    with SqliteJournal(path) as journal, rayka.ActorSystem("deep") as system:
        account = system.spawn(Account, journal)
        account.ask(("deposit", 5)).result(timeout=5)
        with pytest.raises(rayka.SerializationError, match=r"Account at /user/\S+ cannot persist 'account-1'"):
            account.ask(("deposit", deep)).result(timeout=5)
        assert account.ask("state").result(timeout=5) == (5, 1, 1)
        assert journal.highest_seq("account-1") == 1
