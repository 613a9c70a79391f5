"""Scheduling and shutdown: fairness, blocking actors on the pool, ordered and bounded stops."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from .actorkit import WAIT

from rayka import Actor, ActorRef, ActorStopped, ActorSystem

pytestmark = pytest.mark.timeout(30)



class Shared(Actor):
    """Appends ``(tag, message)`` to a shared list; throughput 5 per turn."""

    throughput = 5

    def __init__(self, tag: str, log: list) -> None:
        self.tag = tag
        self.log = log

    def receive(self, message: Any) -> None:
        self.log.append((self.tag, message))


class FanOut(Actor):
    """Tells n messages to each target from one handler, so all are queued before any is handled."""

    def receive(self, message: Any) -> str:
        targets, n = message
        for i in range(n):
            for target in targets:
                target.tell(i)
        return "done"


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Sleeper(Actor):
    """A blocking actor: its handler runs on the pool and waits for the test."""

    blocking = True

    def __init__(self, inside: threading.Event, proceed: threading.Event) -> None:
        self.inside = inside
        self.proceed = proceed
        self.running = 0
        self.overlaps = 0

    def receive(self, message: Any) -> Any:
        self.running += 1
        if self.running > 1:
            self.overlaps += 1
        try:
            if message == "wait":
                self.inside.set()
                self.proceed.wait(WAIT)
                time.sleep(0.2)
                return "slept"
            if message == "overlaps":
                return self.overlaps
            time.sleep(0.001)
            return message
        finally:
            self.running -= 1


class StopLog(Actor):
    """Spawns children named in ``tree`` (a dict name -> subtree) and logs its path from on_stop."""

    def __init__(self, log: list, tree: dict) -> None:
        self.log = log
        self.tree = tree

    def on_start(self) -> None:
        for name, subtree in self.tree.items():
            self.context.spawn(StopLog, self.log, subtree, name=name)

    def on_stop(self) -> None:
        self.log.append(self.context.self.name)

    def receive(self, message: Any) -> Any:
        return message


class Forever(Actor):
    """An async handler that never finishes on its own."""

    shutdown_timeout = 0.2

    async def receive(self, message: Any) -> Any:
        await asyncio.Event().wait()


class SlowStop(Actor):
    """An async on_stop that never finishes; its stop is bounded by ``shutdown_timeout``."""

    shutdown_timeout = 0.2

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled

    def receive(self, message: Any) -> Any:
        return message

    async def on_stop(self) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def _longest_run(log: list) -> int:
    longest = run = 0
    previous = None
    for tag, _ in log:
        run = run + 1 if tag == previous else 1
        previous = tag
        longest = max(longest, run)
    return longest


def test_two_busy_actors_interleave_at_most_throughput_messages_per_turn(system: ActorSystem) -> None:
    log: list = []
    a = system.spawn(Shared, "a", log)
    b = system.spawn(Shared, "b", log)
    assert system.spawn(FanOut).ask(([a, b], 200)).result(WAIT) == "done"
    a.ask("sync").result(WAIT)
    b.ask("sync").result(WAIT)
    assert len(log) == 402
    assert _longest_run(log) <= 5
    first_b = next(i for i, (tag, _) in enumerate(log) if tag == "b")
    last_a = max(i for i, (tag, _) in enumerate(log) if tag == "a")
    assert first_b < last_a


def test_system_throughput_must_be_a_positive_int() -> None:
    with pytest.raises(ValueError, match="throughput"):
        ActorSystem("bad", throughput=0)


@pytest.fixture
def pool_system() -> Iterator[ActorSystem]:
    """A system for the blocking-actor tests, quick to shut down even if its loop is stuck."""
    system = ActorSystem("pool", shutdown_timeout=0.5)
    try:
        yield system
    finally:
        system.shutdown(timeout=1)


def test_a_blocking_actor_does_not_stall_another_actors_asks(pool_system: ActorSystem) -> None:
    inside, proceed = threading.Event(), threading.Event()
    sleeper = pool_system.spawn(Sleeper, inside, proceed)
    echo = pool_system.spawn(Echo)
    slow = sleeper.ask("wait", timeout=WAIT)
    assert inside.wait(2), "the blocking handler never started"
    assert echo.ask("still here", timeout=2).result() == "still here"  # answered while the handler waits
    assert not slow.done()
    proceed.set()
    assert slow.result(WAIT) == "slept"


def test_a_blocking_actor_handles_one_message_at_a_time_in_order(pool_system: ActorSystem) -> None:
    sleeper = pool_system.spawn(Sleeper, threading.Event(), threading.Event())
    replies = [sleeper.ask(i, timeout=2) for i in range(20)]
    assert [reply.result() for reply in replies] == list(range(20))
    assert sleeper.ask("overlaps").result(2) == 0


def test_an_async_receive_that_never_finishes_cannot_stall_other_actors(system: ActorSystem) -> None:
    forever = system.spawn(Forever)
    pending = forever.ask("x", timeout=None)
    assert system.spawn(Echo).ask("ok").result(WAIT) == "ok"
    assert not pending.done()


def test_shutdown_with_busy_actors_returns_and_nothing_hangs() -> None:
    system = ActorSystem("busy", shutdown_timeout=0.2)
    forever = system.spawn(Forever)
    forever.tell("stuck")
    queued_behind = forever.ask("queued", timeout=None)
    echo = system.spawn(Echo)
    for i in range(100_000):
        echo.tell(i)
    assert system.shutdown(timeout=10) in (True, False)
    with pytest.raises(ActorStopped):
        queued_behind.result(WAIT)
    assert not forever.is_alive
    assert not echo.is_alive


class SlowToCancel(Actor):
    """A handler that needs a moment to clean up when cancelled; longer to stop than its parent waits."""

    shutdown_timeout = 5.0

    async def receive(self, message: Any) -> Any:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(time.sleep, 0.3)


def test_an_ask_in_flight_at_an_actor_that_shutdown_abandons_fails_with_ActorStopped() -> None:
    system = ActorSystem("abandon", shutdown_timeout=0.2)
    stuck = system.spawn(SlowToCancel)
    in_flight = stuck.ask("x", timeout=None)
    assert system.spawn(Echo).ask("started").result(WAIT) == "started"
    system.shutdown(timeout=3)
    alive = stuck.is_alive
    # Collect the abandoned loop's tasks now, not while pytest formats a failure (CPython 3.11's ast
    # state breaks when a finalizer's traceback is rendered inside pytest's own ast.parse).
    del system, stuck
    gc.collect()
    assert not alive
    with pytest.raises(ActorStopped):
        in_flight.result(1)


def test_shutdown_twice_and_the_context_manager_exit_are_harmless() -> None:
    with ActorSystem("twice") as system:
        system.spawn(Echo)
        assert system.shutdown(timeout=10) is True
        assert system.shutdown(timeout=10) is True


def test_children_stop_before_their_parent_in_reverse_start_order(system: ActorSystem) -> None:
    log: list = []
    tree = {"a": {"a1": {}, "a2": {}}, "b": {}, "c": {"c1": {}}}
    parent = system.spawn(StopLog, log, tree, name="parent")
    parent.ask("ready").result(WAIT)  # on_start, which spawns the children, ran before this
    for path in ("/user/parent/a", "/user/parent/c"):
        system.lookup(path).ask("ready").result(WAIT)
    parent.stop()
    assert system.wait_terminated(parent, WAIT)
    assert log == ["c1", "c", "b", "a2", "a1", "a", "parent"]


def test_shutdown_stops_top_level_actors_in_reverse_start_order() -> None:
    log: list = []
    system = ActorSystem("ordered")
    for name in ("x", "y", "z"):
        system.spawn(StopLog, log, {f"{name}1": {}}, name=name).ask("ready").result(WAIT)
    assert system.shutdown(timeout=10) is True
    assert log == ["z1", "z", "y1", "y", "x1", "x"]


def test_an_on_stop_that_never_finishes_is_cancelled_after_the_class_shutdown_timeout(system: ActorSystem) -> None:
    cancelled = threading.Event()
    ref = system.spawn(SlowStop, cancelled)
    assert ref.ask("alive").result(WAIT) == "alive"
    ref.stop()
    assert system.wait_terminated(ref, WAIT)
    assert cancelled.wait(WAIT)


def test_a_parent_whose_child_hangs_in_on_stop_still_stops(system: ActorSystem) -> None:
    cancelled = threading.Event()

    class Parent(Actor):
        def on_start(self) -> None:
            self.context.spawn(SlowStop, cancelled, name="slow")

        def receive(self, message: Any) -> Any:
            return [child.name for child in self.context.children]

    parent: ActorRef = system.spawn(Parent)
    assert parent.ask("kids").result(WAIT) == ["slow"]
    parent.stop()
    assert system.wait_terminated(parent, WAIT)
    assert cancelled.is_set()


def test_a_shutdown_started_from_inside_an_actor_stops_the_tree_and_then_the_loop_thread() -> None:
    import threading

    import rayka

    class Quitter(rayka.Actor):
        def receive(self, message):
            return self.context.system.shutdown()

    system = rayka.ActorSystem("quitter")
    thread = system._thread
    assert system.spawn(Quitter).ask("quit", timeout=WAIT).result() is False  # it cannot wait for itself
    thread.join(WAIT)
    assert not thread.is_alive()
    assert system.terminated
    assert threading.current_thread() is not thread
