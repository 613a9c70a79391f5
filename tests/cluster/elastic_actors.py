"""Actors for the elastic-membership tests (sent by value: test modules are not installed on the nodes)."""

from __future__ import annotations

import os

import rayka


class Keeper(rayka.Actor):
    """Counts what it was told; reports its end (with its pid) to ``witness``."""

    def __init__(self, witness: rayka.ActorRef | None = None) -> None:
        self.witness = witness
        self.seen = 0

    def receive(self, message):
        if message == "state":
            return [self.seen, os.getpid()]
        self.seen += 1
        return None

    def on_stop(self) -> None:
        if self.witness is not None:
            self.witness.tell(["stopped", self.context.self.path, os.getpid()])


class Holder(rayka.Actor):
    """Keeps a Keeper child on the node it is given."""

    supervisor_strategy = rayka.OneForOne(max_restarts=5, within=60)

    def __init__(self, child_node: str) -> None:
        self.child_node = child_node

    def on_start(self) -> None:
        self.child = self.context.spawn(Keeper, name="kid", node=self.child_node)

    async def receive(self, message):
        if message == "child-state":
            children = list(self.context.children)
            return await children[0].ask("state", timeout=10) if children else None
        return None
