"""Actors for the contract suite: the same classes run embedded and on node runtimes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import rayka
from tests.cluster.cluster_actors import Stuck as Never
from tests.cluster.cluster_actors import Watcher

__all__ = ["Burst", "CrossSpawner", "Failing", "Never", "Ordered", "Publisher", "Recorder", "Reporter",
           "Resuming", "Watcher"]  # Never and Watcher are shared with the cluster tests


class Recorder(rayka.Actor):
    """Keeps what it is told; answers ``"seen"``, fails on ``("fail", text)``."""

    def __init__(self) -> None:
        self.seen: list = []

    def receive(self, message):
        match message:
            case "seen":
                return list(self.seen)
            case ("fail", text):
                raise ValueError(text)
            case _:
                self.seen.append(message)
                return len(self.seen)


class Burst(rayka.Actor):
    """Told ``(target, n)``: tells ``target`` 0..n-1."""

    def receive(self, message):
        target, n = message
        for i in range(n):
            target.tell(i)
        return n


class Resuming(rayka.Actor):
    """Supervises one Recorder child with a decider: ValueError resumes, KeyError restarts, else stops."""

    supervisor_strategy = rayka.OneForOne(
        max_restarts=5, within=60,
        decider={ValueError: rayka.Directive.RESUME, KeyError: rayka.Directive.RESTART,
                 Exception: rayka.Directive.STOP})

    def __init__(self, child_node) -> None:
        self.child_node = child_node

    def on_start(self) -> None:
        self.child = self.context.spawn(Failing, name="child", node=self.child_node)

    def receive(self, message):
        if message == "child":
            return self.child
        return None


class Failing(rayka.Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message):
        match message:
            case "count":
                return self.count
            case ("raise", kind):
                raise {"value": ValueError, "key": KeyError, "type": TypeError}[kind](kind)
            case _:
                self.count += 1
                return self.count


class Ordered(rayka.Actor):
    """A parent whose children report their stop to a shared recorder, to check stop order."""

    def __init__(self, log_ref, child_node) -> None:
        self.log_ref = log_ref
        self.child_node = child_node

    def on_start(self) -> None:
        for i in range(3):
            self.context.spawn(Reporter, self.log_ref, f"child-{i}", name=f"c{i}", node=self.child_node)

    def receive(self, message):
        if message == "children":
            return len(self.context.children)
        return None

    def on_stop(self) -> None:
        self.log_ref.tell(("parent", time.monotonic_ns()))  # CLOCK_MONOTONIC: one clock for every process here


class Reporter(rayka.Actor):
    def __init__(self, log_ref, label) -> None:
        self.log_ref = log_ref
        self.label = label

    def receive(self, message):
        return self.label

    def on_stop(self) -> None:
        self.log_ref.tell((self.label, time.monotonic_ns()))


class CrossSpawner(rayka.Actor):
    """Spawns a child on ``node`` when asked, then asks it: a node that spawns on another while it spawns back."""

    async def receive(self, message):
        node, value = message
        child = self.context.spawn(Recorder, node=node)
        return await child.ask(value, timeout=10)


class Publisher(rayka.Actor):
    """Publishes through its own node's topics actor."""

    async def receive(self, message):
        from rayka.patterns import Publish, Subscribe

        match message:
            case ("subscribe", topic, ref):
                return await self.context.system.topics.ask(Subscribe(topic, ref), timeout=10)
            case ("publish", topic, payload):
                return await self.context.system.topics.ask(Publish(topic, payload), timeout=10)


class Account(rayka.Actor):
    """Methods and a receive: ``deposit``/``balance`` are calls, a plain message is logged in order with them."""

    def __init__(self) -> None:
        self.total = 0
        self.log: list = []

    def deposit(self, amount: int, *, note: str = "") -> int:
        self.total += amount
        self.log.append(("deposit", amount, note))
        return self.total

    async def audit(self) -> list:
        await asyncio.sleep(0)
        return list(self.log)

    def crash(self) -> None:
        raise ValueError("account crashed")

    def receive(self, message: Any) -> Any:
        self.log.append(("message", message))
        return len(self.log)


class Caller(rayka.Actor):
    """Calls the account it is given through a proxy from inside an actor (``await`` in an async receive)."""

    async def receive(self, message: Any) -> Any:
        proxy, amounts = message
        for amount in amounts:
            proxy.deposit.tell(amount)
        return await proxy.deposit(0, note="from an actor")
