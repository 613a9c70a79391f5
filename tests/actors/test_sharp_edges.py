"""Sharp edges of the core found by porting other projects' tests: each test failed before its fix."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import rayka
from rayka.mailbox import Bounded, Priority
from rayka.testing import Probe, TestProbe

pytestmark = pytest.mark.timeout(30)


class Watcher(rayka.Actor):
    """Watches a target; ``("hold", started, release)`` keeps it busy (on a worker thread); reports all else."""

    blocking = True

    def __init__(self, target: rayka.ActorRef, probe: rayka.ActorRef) -> None:
        self.target, self.probe = target, probe

    def on_start(self) -> None:
        self.context.watch(self.target)

    def receive(self, message: Any) -> Any:
        match message:
            case ("hold", started, release):
                started.set()
                release.wait(10)  # the target stops meanwhile: its Terminated queues behind this
            case "unwatch":
                self.context.unwatch(self.target)
            case _:
                self.probe.tell(message)


def test_unwatch_drops_a_terminated_already_queued(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    target = system.spawn(Probe)
    watcher = system.spawn(Watcher, target, probe.ref)
    started, release = threading.Event(), threading.Event()
    watcher.tell(("hold", started, release))
    assert started.wait(5)
    watcher.tell("unwatch")
    target.stop()
    assert system.wait_terminated(target, timeout=5)  # its Terminated now waits behind "unwatch"
    watcher.tell("after")
    release.set()

    assert probe.expect(timeout=5) == "after"
    probe.expect_no_message(0.2)


class AsyncWatcher(rayka.Actor):
    def __init__(self, target: rayka.ActorRef, probe: rayka.ActorRef) -> None:
        self.target, self.probe = target, probe

    def on_start(self) -> None:
        self.context.watch(self.target)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "await-then-unwatch":
            await asyncio.wrap_future(message[1])  # the target stops while this handler waits
            self.context.unwatch(self.target)
            return "unwatched"
        self.probe.tell(message)


def test_an_async_watcher_that_unwatches_after_an_await_does_not_get_the_terminated(
        system: rayka.ActorSystem) -> None:
    from concurrent.futures import Future

    probe = TestProbe(system)
    target = system.spawn(Probe)
    watcher = system.spawn(AsyncWatcher, target, probe.ref)
    gate: Future = Future()
    reply = watcher.ask(("await-then-unwatch", gate), timeout=10)
    target.stop()
    assert system.wait_terminated(target, timeout=5)
    watcher.tell("sync-point")  # handled after the Terminated would be
    gate.set_result(None)

    assert reply.result(timeout=5) == "unwatched"
    assert probe.expect(timeout=5) == "sync-point"
    probe.expect_no_message(0.2)


class CustomWatcher(rayka.Actor):
    def __init__(self, target: rayka.ActorRef, probe: rayka.ActorRef) -> None:
        self.target, self.probe = target, probe

    def on_start(self) -> None:
        self.context.watch_with(self.target, ("lost", "worker-1"))

    def receive(self, message: Any) -> Any:
        self.probe.tell(message)


def test_watch_with_delivers_the_given_message_instead_of_terminated(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    target = system.spawn(Probe)
    system.spawn(CustomWatcher, target, probe.ref)
    target.stop()

    assert probe.expect(timeout=5) == ("lost", "worker-1")
    probe.expect_no_message(0.2)


class PriorityParent(rayka.Actor):
    mailbox = Priority(key=lambda message: message[0])  # a key that cannot take a signal

    def __init__(self, probe: rayka.ActorRef) -> None:
        self.probe = probe

    def on_start(self) -> None:
        self.child = self.context.spawn(Probe, name="child")
        self.context.watch(self.child)

    def receive(self, message: Any) -> Any:
        if message == ("stop-child",):
            self.context.stop(self.child)
        else:
            self.probe.tell(message)


def test_a_priority_mailbox_never_passes_a_signal_to_the_users_key(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    parent = system.spawn(PriorityParent, probe.ref)
    parent.tell(("stop-child",))

    signal = probe.expect(rayka.Terminated, timeout=5)
    assert signal.ref.name == "child"
    parent.tell((1, "still alive"))
    assert probe.expect(timeout=5) == (1, "still alive")


@pytest.mark.parametrize("overflow", ["fail", "backpressure"])
def test_refused_messages_are_counted_as_dropped(system: rayka.ActorSystem, overflow: str) -> None:
    started, release = threading.Event(), threading.Event()

    class Slow(rayka.Actor):
        def receive(self, message: Any) -> Any:
            if message == "hold":
                started.set()
                release.wait(10)

    ref = system.spawn(Slow, mailbox=Bounded(2, overflow=overflow))
    ref.tell("hold")
    assert started.wait(5)
    ref.tell(1)
    ref.tell(2)
    for _ in range(3):
        with pytest.raises(rayka.MailboxFull):
            ref.tell(3)
    release.set()

    assert ref.statistics().dropped == 3


def test_a_done_callback_that_raises_is_logged_and_the_actor_goes_on(
        system: rayka.ActorSystem, caplog: pytest.LogCaptureFixture) -> None:
    class Echo(rayka.Actor):
        def receive(self, message: Any) -> Any:
            return message

    echo = system.spawn(Echo)

    def broken(_: Any) -> None:
        raise ZeroDivisionError("a user's callback")

    pending = system.spawn(_Deferring, name="deferring").ask("hold", timeout=5)  # resolved later, on the actor's loop
    pending.add_done_callback(broken)
    with caplog.at_level("ERROR", logger="rayka"):
        system.lookup("/user/deferring").tell("release")
        assert pending.result(timeout=5) == "released"
        assert echo.ask("second", timeout=5).result(timeout=5) == "second"  # the loop is not wedged
    assert "done callback" in caplog.text and "ZeroDivisionError" in caplog.text


class _Deferring(rayka.Actor):
    """Holds the reply of ``"hold"`` and answers it when told ``"release"``, on its own loop."""

    def __init__(self) -> None:
        self.held: Any = None

    def receive(self, message: Any) -> Any:
        if message == "hold":
            self.held = self.context.defer_reply()
        elif message == "release":
            self.held.set_result("released")


def test_a_failure_is_logged_with_the_handlers_traceback_at_the_failures_level(
        system: rayka.ActorSystem, caplog: pytest.LogCaptureFixture) -> None:
    class Faulty(rayka.Actor):
        def receive(self, message: Any) -> Any:
            return self.divide(message)

        def divide(self, n: int) -> float:
            return 1 / n

    faulty = system.spawn(Faulty)
    with caplog.at_level("WARNING", logger="rayka"):
        with pytest.raises(ZeroDivisionError):
            faulty.ask(0, timeout=5).result()
        assert faulty.ask(2, timeout=5).result() == 0.5  # restarted
    records = [r for r in caplog.records if "failed with ZeroDivisionError" in r.getMessage()]
    assert len(records) == 1 and records[0].levelname == "WARNING"  # once, at the failure's level
    text = records[0].getMessage()
    assert text.splitlines()[0].endswith("decided restart")  # the one-line summary stays first
    assert "Traceback" in text and "in divide" in text and "return 1 / n" in text
    assert "_cell.py" not in text  # compact: the message loop's own frames are left out


@pytest.mark.parametrize("timeout", ["5", True, [1]])
def test_an_ask_timeout_that_is_not_a_number_says_what_is_expected(system: rayka.ActorSystem, timeout: Any) -> None:
    ref = system.spawn(Probe, name="target")
    with pytest.raises(TypeError, match=r"ask to /user/target: timeout must be a number of seconds .* or None"):
        ref.ask("ping", timeout=timeout)


class Keeper(rayka.Actor):
    """Has two children; its on_pre_restart keeps "cache" and stops "scratch"."""

    instances = 0

    def __init__(self, probe: rayka.ActorRef) -> None:
        self.probe = probe
        type(self).instances += 1

    def on_start(self) -> None:
        self.context.spawn(Probe, name="cache")
        self.context.spawn(Probe, name="scratch")

    def on_pre_restart(self, error: BaseException) -> None:
        self.probe.tell(("pre-restart", type(error).__name__, sorted(c.name for c in self.context.children)))
        self.context.stop(self.context.child("scratch"))

    def on_restart(self, error: BaseException) -> None:
        self.probe.tell(("restarted", sorted(c.name for c in self.context.children)))
        self.context.spawn(Probe, name="scratch")  # the kept child is still there; this one is new

    def receive(self, message: Any) -> Any:
        if message == "fail":
            raise KeyError("boom")
        return sorted(c.name for c in self.context.children)


def test_on_pre_restart_runs_on_the_failing_instance_and_may_keep_children(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    keeper = system.spawn(Keeper, probe.ref)
    assert keeper.ask("children", timeout=5).result() == ["cache", "scratch"]
    cache = system.lookup(keeper.path + "/cache")
    keeper.tell("fail")
    assert probe.expect(timeout=5) == ("pre-restart", "KeyError", ["cache", "scratch"])
    assert probe.expect(timeout=5) == ("restarted", ["cache"])  # scratch stopped and awaited, cache kept
    assert keeper.ask("children", timeout=5).result() == ["cache", "scratch"]
    assert system.lookup(keeper.path + "/cache") == cache and cache.is_alive


def test_by_default_a_restart_stops_the_children(system: rayka.ActorSystem) -> None:
    class Plain(Keeper):
        on_pre_restart = rayka.Actor.on_pre_restart  # the default

        def on_restart(self, error: BaseException) -> None:
            self.probe.tell(("restarted", sorted(c.name for c in self.context.children)))

    probe = TestProbe(system)
    plain = system.spawn(Plain, probe.ref)
    plain.tell("fail")
    assert probe.expect(timeout=5) == ("restarted", [])


class Sleeper(rayka.Actor):
    def receive(self, message: Any) -> Any:
        import time

        time.sleep(message)  # blocks the event loop: what the watchdog is for
        return message


class AsyncSleeper(rayka.Actor):
    async def receive(self, message: Any) -> Any:
        import time

        await asyncio.sleep(0)
        time.sleep(message)  # blocks between awaits
        return message


@pytest.mark.parametrize("cls", [Sleeper, AsyncSleeper])
def test_the_loop_watchdog_names_the_actor_that_holds_the_loop(cls: type, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="rayka"), \
            rayka.ActorSystem("blocked", loop_watchdog=0.2) as system:
        sleeper = system.spawn(cls, name="sleeper")
        assert sleeper.ask(0.8, timeout=5).result() == 0.8
        watchdog = system.watchdog
        assert watchdog is not None and watchdog.episode_over.wait(5)  # the loop came back: the total is out
        assert watchdog.reported >= 1
    text = caplog.text
    assert "/user/sleeper has held the event loop for" in text and "handling a float message" in text
    assert "blocking = True" in text and "async def receive" in text
    assert "/user/sleeper held the event loop for" in text and "in all" in text


def test_the_loop_watchdog_is_quiet_for_short_handlers_and_can_be_turned_off(
        caplog: pytest.LogCaptureFixture) -> None:
    # 10 ms turns against a 1 s threshold: quiet even on a loaded machine
    with caplog.at_level("WARNING", logger="rayka"), rayka.ActorSystem("quiet", loop_watchdog=1.0) as system:
        sleeper = system.spawn(Sleeper)
        for _ in range(20):
            sleeper.ask(0.01, timeout=5).result()
        assert system.watchdog is not None and system.watchdog.reported == 0
    with rayka.ActorSystem("off", loop_watchdog=None) as system:
        assert system.watchdog is None
    assert "event loop" not in caplog.text


def test_a_consumer_subclass_may_use_plain_names_like_pull_ack_and_consume(system: rayka.ActorSystem) -> None:
    from rayka.patterns import Consumer, Drain, PutMany, WorkQueue

    handled: list = []

    class Picky(Consumer):
        window = 4

        def pull(self) -> None:  # the user's own methods: before, these replaced the machinery
            raise AssertionError("the machinery called the user's pull")

        def ack(self, ids: Any) -> None:
            raise AssertionError("the machinery called the user's ack")

        def consume(self, batch: Any) -> None:
            raise AssertionError("the machinery called the user's consume")

        def handle(self, work: Any) -> None:
            handled.append(work)

    queue = system.spawn(WorkQueue, 100)
    system.spawn(Picky, queue)
    queue.ask(PutMany(tuple(range(20))), timeout=5).result()
    assert queue.ask(Drain(), timeout=10).result() == 20
    assert handled == list(range(20))


def test_a_second_system_under_a_running_name_warns_and_get_or_create_reuses_it() -> None:
    first = rayka.ActorSystem.get_or_create("cell-run-again")
    try:
        assert rayka.ActorSystem.get_or_create("cell-run-again") is first  # the cell, run again
        with pytest.warns(RuntimeWarning, match=r"'cell-run-again' is already running .*get_or_create"):
            second = rayka.ActorSystem("cell-run-again")
        second.shutdown()
    finally:
        first.shutdown()
    again = rayka.ActorSystem.get_or_create("cell-run-again")
    assert again is not first and not again.closed  # after a shutdown, a new one
    again.shutdown()


def test_the_tree_draws_classes_states_and_restarts(system: rayka.ActorSystem) -> None:
    sup = system.spawn(rayka.Supervisor, [rayka.ChildSpec(Probe, "a"), rayka.ChildSpec(Faulty2, "b")], name="sup")
    b = sup.ask("children", timeout=5).result()["b"]
    with pytest.raises(ZeroDivisionError):
        b.ask(0, timeout=5).result()
    assert b.ask(1, timeout=5).result() == 1.0
    assert system.tree().splitlines() == [
        "/user of system 'test'",
        "└── sup (Supervisor) [running, 0 queued]",
        "    ├── a (Probe) [running, 0 queued]",
        "    └── b (Faulty2) [running, 0 queued, 1 restart]",
    ]


class Faulty2(rayka.Actor):
    def receive(self, message: Any) -> Any:
        return 1 / message


class Inspector(rayka.Actor):
    """Answers what its context offers, and whether it is the same object on every read."""

    def receive(self, message: Any) -> Any:
        context = self.context
        reachable = [name for name in ("mailbox", "run", "tell", "post_system", "instance", "state", "_receive")
                     if hasattr(context, name)]
        return reachable, context is self.context, context.self.path, context.sender


def test_the_context_is_a_facade_that_keeps_the_cells_machinery_out_of_reach(system: rayka.ActorSystem) -> None:
    ref = system.spawn(Inspector, name="inspector")
    reachable, same, path, sender = ref.ask("look").result(timeout=5)
    assert reachable == []  # was the cell itself: mailbox, run, tell, post_system, ... all reachable
    assert same and path == "/user/inspector" and sender is None
    assert isinstance(rayka.ActorContext, type) and not hasattr(rayka.ActorContext, "run")


def test_bounded_and_priority_mailboxes_count_what_their_loop_handled(system: rayka.ActorSystem) -> None:
    for spec in (Bounded(100), Priority(key=lambda message: -message)):
        ref = system.spawn(Probe, mailbox=spec)
        for n in range(10):
            ref.tell(n)
        ref.ask(0).result(timeout=5)
        assert ref.statistics().processed == 11
