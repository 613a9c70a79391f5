"""Persistent actors: persist before the state changes, recover from events and snapshots."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import rayka
from rayka._errors import JournalError
from rayka.patterns import PersistentActor
from rayka.persistence import SqliteJournal, decode

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
