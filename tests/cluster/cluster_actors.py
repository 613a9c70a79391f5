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


class Collector(rayka.Actor):
    """Counts work ids handled anywhere in the cluster, and by which node."""

    def __init__(self) -> None:
        self.handled: list = []
        self.by_node: dict = {}

    def receive(self, message):
        match message:
            case ("handled", work_id, node):
                self.handled.append(work_id)
                self.by_node[node] = self.by_node.get(node, 0) + 1
            case "by_node":
                return dict(self.by_node)
            case "ids":
                return list(self.handled)


def _consumer_class():
    from rayka.patterns import Consumer

    class ReportingConsumer(Consumer):
        """Handles work by reporting its id to a collector; ``pause`` slows it (simulated work)."""

        window = 16

        def __init__(self, queue, collector, node: str, pause: float = 0.0) -> None:
            super().__init__(queue)
            self.collector, self.node, self.pause = collector, node, pause

        def handle(self, work) -> None:
            if self.pause:
                import time

                time.sleep(self.pause)  # the work itself
            self.collector.tell(("handled", work, self.node))

    return ReportingConsumer


ReportingConsumer = _consumer_class()


class Listener(rayka.Actor):
    def __init__(self) -> None:
        self.got: list = []

    def receive(self, message):
        if message == "got":
            return list(self.got)
        self.got.append(message)


class SlowSink(rayka.Actor):
    """Takes 5 ms per message (simulated work) and remembers what it got."""

    def __init__(self) -> None:
        self.got: list = []

    def receive(self, message):
        if message == "got":
            return list(self.got)
        import time

        time.sleep(0.005)
        self.got.append(message)


class Pusher(rayka.Actor):
    """Sends 0..n-1 to a target with `send`, waiting for room each time."""

    async def receive(self, message):
        target, n = message
        for i in range(n):
            await target.send(i)
        return await target.ask("got", timeout=60)  # on the same stream: after every send


class Finder(rayka.Actor):
    """Looks a name up from inside a node and asks the actor it finds."""

    async def receive(self, name):
        found = self.context.system.lookup(name)
        return found.path, await found.ask("count", timeout=10)


def _named_consumer_class():
    from rayka.patterns import Consumer

    class NamedQueueConsumer(Consumer):
        """Finds its queue by name (again after the queue's node dies) and reports handled work."""

        window = 32

        def __init__(self, queue_name: str, collector) -> None:
            super().__init__(queue_name)
            self.collector = collector

        def handle(self, work) -> None:
            self.collector.tell(("handled", work, "consumer"))

    return NamedQueueConsumer


NamedQueueConsumer = _named_consumer_class()


class LaterService(rayka.Actor):
    """Answers ("square", x, reply_to) later, by telling reply_to, after its own timer."""

    def receive(self, message):
        match message:
            case ("square", x, reply_to):
                self.context.schedule_once(0.01, ("answer", x * x, reply_to))
            case ("answer", value, reply_to):
                reply_to.tell(("squared", value), self.context.self)


class Client(rayka.Actor):
    def __init__(self) -> None:
        self.answers: list = []

    def receive(self, message):
        match message:
            case ("call", service, x):
                service.tell(("square", x, self.context.self))
            case ("squared", value):
                self.answers.append(value)
            case "answers":
                return sorted(self.answers)


class NodeName(rayka.Actor):
    def __init__(self, name: str) -> None:
        self.name = name

    def receive(self, message):
        return (self.name, message)


class Placer(rayka.Actor):
    """Spawns from inside a node with any placement form and reports where the actor landed."""

    async def receive(self, message):
        match message:
            case ("child", node):
                child = self.context.spawn(Counter, node=node)
                return child, await child.ask("pid", timeout=10)
            case ("top", name, node):
                ref = self.context.system.spawn(Counter, name=name, node=node)
                return ref, await ref.ask("pid", timeout=10)
            case ("lookup", name):
                try:
                    return self.context.system.lookup(name)
                except rayka.ActorNotFound:
                    return None
            case ("stats", ref):
                return ref.statistics()


class Announcer(rayka.Actor):
    """Tells ``collector`` the pid of the process it started in, every time it starts."""

    def __init__(self, collector) -> None:
        self.collector = collector

    def on_start(self) -> None:
        self.collector.tell(("started", os.getpid()))

    def receive(self, message):
        return os.getpid()


class OrderChecker(rayka.Actor):
    """Counts what arrives per stream (ints from a Sender, ``(name, i)`` tuples from others): lost, twice, out of order."""

    def __init__(self) -> None:
        self.next: dict = {}
        self.count = 0
        self.disorder = 0
        self.waiting: list = []  # (count, ref): tell ref "reached" once that many arrived

    def receive(self, message):
        if message == "report":
            return {"count": self.count, "disorder": self.disorder, "next": dict(self.next)}
        if message == "count":
            return self.count
        if isinstance(message, tuple) and len(message) == 3 and message[0] == "notify":
            self.waiting.append(message[1:])
            self._notify()
            return None
        stream, i = ("sender", message) if isinstance(message, int) else message
        if i != self.next.get(stream, 0):
            self.disorder += 1  # a gap, a repeat or a reordering
        self.next[stream] = i + 1
        self.count += 1
        if self.waiting:
            self._notify()

    def _notify(self) -> None:
        reached = [entry for entry in self.waiting if self.count >= entry[0]]
        for entry in reached:
            self.waiting.remove(entry)
            entry[1].tell("reached")


class Pid(rayka.Actor):
    """Answers ``(pid, n * n)``: which process (node runtime) handled ``n``."""

    def receive(self, message):
        import os

        return (os.getpid(), message * message)
