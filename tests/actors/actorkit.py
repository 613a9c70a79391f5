"""Small actors shared by the tests in tests/actors (not a test module)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from rayka import Actor, ActorRef, ActorSystem, Strategy
from rayka.actors import Signal

WAIT = 5.0  # seconds any single wait in a test may take before it counts as a hang


class Gate:
    """Two events: the handler sets ``entered`` and waits for the test to set ``release``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def wait_entered(self) -> None:
        assert self.entered.wait(WAIT), "the gated handler never started"


class Gated(Actor):
    """Holds its handler on ``"gate"`` until the test sets ``gate.release``; forwards the rest to ``out``.

    The handler is async and waits in a worker thread, so the loop and other actors keep running
    while this actor's mailbox fills up.
    """

    def __init__(self, gate: Gate, out: ActorRef | None = None) -> None:
        self.gate = gate
        self.out = out

    async def receive(self, message: Any) -> Any:
        if message == "gate":
            self.gate.entered.set()
            await asyncio.to_thread(self.gate.release.wait, WAIT)
            return "opened"
        if self.out is not None:
            self.out.tell(message)
        return message


class Burst(Actor):
    """Tells a batch of messages from the loop thread in one handler, so all are queued before the target runs."""

    def receive(self, message: Any) -> None:
        target, messages, sender = message
        for item in messages:
            target.tell(item, sender)


def burst(system: ActorSystem, target: ActorRef, messages: list, sender: ActorRef | None = None) -> None:
    """Queue ``messages`` at ``target`` atomically with respect to the target's handling."""
    helper = system.spawn(Burst)
    helper.ask((target, list(messages), sender)).result(WAIT)
    helper.stop()


class Worker(Actor):
    """A counter that records its lifecycle into ``log`` and fails on ``("fail", ExcType)``.

    ``kids`` are the Worker children it spawns in ``on_start`` (also after a restart): names, or
    ``(name, their_kids, their_strategy)`` triples; signals it receives go to ``probe``.
    """

    def __init__(self, log: list, tag: str, kids: tuple = (), probe: ActorRef | None = None,
                 strategy: Strategy | None = None) -> None:
        self.log = log
        self.tag = tag
        self.kids = kids
        self.probe = probe
        if strategy is not None:
            self.supervisor_strategy = strategy
        self.count = 0
        log.append(("created", tag))

    def on_start(self) -> None:
        for kid in self.kids:
            name, grandkids, strategy = (kid, (), None) if isinstance(kid, str) else kid
            self.context.spawn(Worker, self.log, name, grandkids, self.probe, strategy, name=name)

    def on_restart(self, error: BaseException) -> None:
        self.log.append(("restarted", self.tag, type(error).__name__))
        self.on_start()

    def on_stop(self) -> None:
        self.log.append(("stopped", self.tag))

    def receive(self, message: Any) -> Any:
        if isinstance(message, Signal):
            if self.probe is not None:
                self.probe.tell(message)
            return None
        match message:
            case "incr":
                self.count += 1
                return self.count
            case "get":
                return self.count
            case "ping":
                return "pong"
            case "children":
                return {ref.name: ref for ref in self.context.children}
            case ("fail", error_type):
                raise error_type(self.tag)
            case ("watch", ref):
                self.context.watch(ref)
                return "watching"
        raise AssertionError(f"unexpected message {message!r}")


def events(log: list, kind: str) -> list:
    """The tags of the log entries of one kind, in order."""
    return [entry[1] for entry in list(log) if entry[0] == kind]
