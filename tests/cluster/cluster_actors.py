"""Actor classes shared by the cluster tests."""

from __future__ import annotations

import os
import threading

import rayka


class Counter(rayka.Actor):
    def __init__(self) -> None:
        self.seen: list = []

    def receive(self, message):
        match message:
            case "count":
                return len(self.seen)
            case "in_order":
                return self.seen == sorted(self.seen)
            case "pid":
                return os.getpid()
            case ("fail", text):
                raise ValueError(text)
            case ("lock",):
                return threading.Lock()
            case _:
                self.seen.append(message)
                return None


class Sender(rayka.Actor):
    """Sends ``n`` numbered messages to ``target`` when told ``("go", target, n)``."""

    def receive(self, message):
        _, target, n = message
        for i in range(n):
            target.tell(i)
        return n


class Watcher(rayka.Actor):
    def __init__(self) -> None:
        self.terminated: list = []

    def receive(self, message):
        match message:
            case ("watch", ref):
                self.context.watch(ref)
                return True
            case rayka.Terminated(ref=ref):
                self.terminated.append(ref.path)
            case "terminated":
                return list(self.terminated)


class Forwarder(rayka.Actor):
    async def receive(self, message):
        target, payload = message
        return await target.ask(payload, timeout=10)


class Stuck(rayka.Actor):
    """Never answers: its async receive waits forever."""

    async def receive(self, message):
        import asyncio

        await asyncio.Event().wait()


class Parent(rayka.Actor):
    """Spawns a Counter child on another node and reports on it."""

    supervisor_strategy = rayka.OneForOne(max_restarts=5, within=60)

    def __init__(self, child_node: str) -> None:
        self.child_node = child_node
        self.signals: list = []
        self.stop_order: list = []

    def on_start(self) -> None:
        self.child = self.context.spawn(Counter, name="kid", node=self.child_node)

    def receive(self, message):
        match message:
            case "child":
                return self.child
            case "children":
                return [ref.path for ref in self.context.children]
            case rayka.ChildFailed(ref=ref, error=error):
                self.signals.append((ref.path, type(error).__name__))
            case "signals":
                return list(self.signals)
