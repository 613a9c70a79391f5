"""Entities for the sharding tests: each incarnation reports its process and a token of its own."""

from __future__ import annotations

import os
import uuid

import rayka
from rayka.patterns import PersistentActor


class Cart(rayka.Actor):
    """Keeps what it was told, per sender sequence: ``["seq", sender, n]`` tells, ``"state"`` asks."""

    def __init__(self, owner, label: str = "cart") -> None:
        self.owner, self.label = owner, label
        self.token = uuid.uuid4().hex
        self.items: list = []
        self.by_sender: dict = {}

    async def receive(self, message):
        if message == "whoami":
            return [self.owner, self.label, os.getpid(), self.token]
        if message == "state":
            return [list(self.items), dict(self.by_sender), os.getpid(), self.token]
        if isinstance(message, list) and message[:1] == ["seq"]:
            _, sender, n = message
            self.by_sender.setdefault(sender, []).append(n)
            return [os.getpid(), self.token]
        if isinstance(message, list) and message[:1] == ["via"]:  # an entity ref inside a message
            return await message[1].ask("whoami", timeout=10)
        self.items.append(message)
        return len(self.items)

    def add(self, item):
        self.items.append(item)
        return len(self.items)


class Ledger(PersistentActor):
    """A persistent entity: its events survive passivation, hand-off and the loss of its node."""

    def __init__(self, account, journal) -> None:
        super().__init__(journal)  # an entity: its persistence id is "<entities name>|<account>"
        self.account = account
        self.events: list = []

    def apply(self, event) -> None:
        self.events.append(event)

    async def receive(self, message):
        if message == "events":
            return [list(self.events), os.getpid()]
        if message == "persistence_id":
            return self.persistence_id
        await self.persist(message)
        return len(self.events)


class Asker(rayka.Actor):
    """Asks entity refs it is given, from wherever it runs: ``[refs, message]`` -> answers and its pid."""

    async def receive(self, message):
        refs, question = message
        answers = [await ref.ask(question, timeout=30) for ref in refs]
        return [answers, os.getpid()]


class Tally(PersistentActor):
    """Persists every ``["seq", sender, n]`` it gets: what all its incarnations got, in the order they got it."""

    def __init__(self, key, journal) -> None:
        super().__init__(journal, f"tally-{key}")
        self.by_sender: dict = {}

    def apply(self, event) -> None:
        sender, n = event
        self.by_sender.setdefault(sender, []).append(n)

    async def receive(self, message):
        if message == "state":
            return [[], dict(self.by_sender), os.getpid(), ""]
        _, sender, n = message
        await self.persist([sender, n])
        return None


class Starter(rayka.Actor):
    """On a node runtime: starts (or joins) entities ``Cart`` called ``name`` from there, and asks one."""

    async def receive(self, message):
        name, entity_id = message
        carts = self.context.system.entities(Cart, "from-node", name=name, shards=8)
        return [await carts.ref(entity_id).ask("whoami", timeout=30), os.getpid()]
