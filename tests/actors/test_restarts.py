"""Restarts over time: intensity windows and backoff on a manual clock, restart types, the OTP-style
Supervisor, failures that reach the guardians, and the system's counters."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from .actorkit import WAIT, Worker, events

from rayka import (
    Actor,
    ActorNotFound,
    ActorRef,
    ActorSystem,
    ChildFailed,
    ChildSpec,
    Directive,
    OneForOne,
    Restart,
    Strategy,
    Supervisor,
    SystemClosed,
    Terminated,
)
from rayka.testing import ManualClock, TestProbe

pytestmark = pytest.mark.timeout(30)


class Announcer(Actor):
    """Tells ``probe`` when an instance is created and stopped; fails or stops itself on request."""

    def __init__(self, probe: ActorRef, tag: str) -> None:
        self.probe = probe
        self.tag = tag
        probe.tell(("created", tag))

    def on_stop(self) -> None:
        self.probe.tell(("stopped", self.tag))

    def receive(self, message: Any) -> Any:
        if message == "fail":
            raise RuntimeError(self.tag)
        if message == "stop":
            self.context.stop()
        return message


class FlakyStart(Actor):
    """on_start fails the first time it runs (``attempts`` is shared across instances)."""

    def __init__(self, attempts: list) -> None:
        self.attempts = attempts

    def on_start(self) -> None:
        self.attempts.append("start")
        if len(self.attempts) == 1:
            raise RuntimeError("first start fails")

    def receive(self, message: Any) -> Any:
        return len(self.attempts)


def parent_of_a(system: ActorSystem, strategy: Strategy, probe: TestProbe | None = None
                ) -> tuple[ActorRef, ActorRef, list]:
    log: list = []
    parent = system.spawn(Worker, log, "parent", ("a",), probe.ref if probe else None, strategy, name="parent")
    return parent, parent.ask("children").result(WAIT)["a"], log


def fail(ref: ActorRef, parent: ActorRef | None = None) -> None:
    """Make ``ref`` fail; with its ``parent`` given, return only once the parent has decided what to do
    (the failure is on the parent's control lane before the ping, and it is served first)."""
    with pytest.raises(ValueError):
        ref.ask(("fail", ValueError)).result(WAIT)
    if parent is not None:
        assert parent.ask("ping").result(WAIT) == "pong"


# -- restart intensity ------------------------------------------------------------

def test_exactly_max_restarts_inside_the_window_are_allowed_and_the_next_failure_stops_the_child(
        clocked: ActorSystem, clock: ManualClock) -> None:
    parent_probe, watcher_probe = TestProbe(clocked), TestProbe(clocked)
    parent, a, log = parent_of_a(clocked, OneForOne(max_restarts=2, within=10.0), parent_probe)
    watcher = clocked.spawn(Worker, [], "watcher", (), watcher_probe.ref)
    watcher.ask(("watch", a)).result(WAIT)
    for _ in range(2):
        fail(a, parent)
        assert a.ask("get").result(WAIT) == 0  # restarted
        clock.advance(4.9)
    fail(a, parent)  # the third failure at t=9.8, inside the window
    failed = parent_probe.expect(ChildFailed)
    assert failed.ref == a and isinstance(failed.error, ValueError)
    assert watcher_probe.expect(Terminated) == Terminated(a)
    assert clocked.wait_terminated(a, WAIT)
    assert events(log, "restarted") == ["a", "a"]
    assert clocked.statistics()["restarts"] == 2


def test_restarts_are_allowed_again_once_the_window_has_passed(clocked: ActorSystem, clock: ManualClock) -> None:
    parent, a, log = parent_of_a(clocked, OneForOne(max_restarts=2, within=10.0))
    fail(a, parent)
    clock.advance(1.0)
    fail(a, parent)
    clock.advance(9.5)  # t=10.5: the restart at t=0 left the window, the one at t=1 did not
    fail(a, parent)
    assert a.ask("ping").result(WAIT) == "pong"
    fail(a, parent)  # t=10.5: restarts at 1 and 10.5 are inside the window: this one is too many
    assert clocked.wait_terminated(a, WAIT)
    assert events(log, "restarted") == ["a", "a", "a"]


def test_max_restarts_zero_stops_the_child_at_its_first_failure(clocked: ActorSystem) -> None:
    parent, a, log = parent_of_a(clocked, OneForOne(max_restarts=0, within=1.0))
    fail(a, parent)
    assert clocked.wait_terminated(a, WAIT)
    assert events(log, "restarted") == []


# -- backoff ----------------------------------------------------------------------

def test_backoff_delays_each_restart_exponentially_up_to_max(clocked: ActorSystem, clock: ManualClock) -> None:
    parent, a, log = parent_of_a(clocked, OneForOne().with_backoff(min=1, max=4, factor=2, jitter=0))
    for delay in (1, 2, 4, 4):
        fail(a, parent)  # the parent has decided: the restart now waits on the clock
        assert clock.pending() == [clock.time() + delay]
        a.tell("incr")
        a.tell("incr")
        reply = a.ask("get")
        assert clock.advance(delay - 0.5) == 0
        assert not reply.done()  # suspended until the restart
        assert clock.advance(0.5) == 1
        assert reply.result(WAIT) == 2  # the new instance handled what was sent meanwhile
    assert events(log, "restarted") == ["a"] * 4


def test_backoff_starts_again_from_min_after_the_child_ran_max_seconds_without_failing(
        clocked: ActorSystem, clock: ManualClock) -> None:
    parent, a, _ = parent_of_a(clocked, OneForOne().with_backoff(min=1, max=4, factor=2, jitter=0))
    fail(a, parent)
    clock.advance(1)
    assert a.ask("ping").result(WAIT) == "pong"
    clock.advance(4)  # ran for max = 4 s since its restart
    fail(a, parent)
    assert clock.pending() == [clock.time() + 1]


def test_backoff_jitter_stretches_the_delay_by_at_most_its_fraction(clocked: ActorSystem, clock: ManualClock) -> None:
    parent, a, _ = parent_of_a(clocked, OneForOne().with_backoff(min=2, max=8, factor=2, jitter=0.5))
    fail(a, parent)
    [due] = clock.pending()
    assert 2.0 <= due <= 3.0


class BrokenOnRestart(Actor):
    """Constructs once; once ``broken`` holds anything, the constructor fails."""

    def __init__(self, broken: list) -> None:
        if broken:
            raise OSError("cannot construct")
        self.broken = broken

    def receive(self, message: Any) -> Any:
        self.broken.append(True)
        raise ValueError("first failure")


def test_a_constructor_failing_on_every_restart_uses_up_the_intensity_and_stops_the_child(
        clocked: ActorSystem) -> None:
    probe = TestProbe(clocked)

    class Parent(Worker):
        def on_start(self) -> None:
            self.context.spawn(BrokenOnRestart, [], name="kid")

    parent = clocked.spawn(Parent, [], "parent", (), probe.ref, OneForOne(max_restarts=3, within=10.0))
    kid = parent.ask("children").result(WAIT)["kid"]
    kid.tell("go")
    failed = probe.expect(ChildFailed)
    assert failed.ref == kid and isinstance(failed.error, OSError)
    assert clocked.wait_terminated(kid, WAIT)
    assert clocked.statistics()["failures"] == 4  # the first failure, then three failed constructions


# -- restart types ------------------------------------------------------------------

def test_a_temporary_child_is_never_restarted(system: ActorSystem) -> None:
    log: list = []
    ref = system.spawn(Worker, log, "temp", name="temp", restart=Restart.TEMPORARY)
    fail(ref)
    assert system.wait_terminated(ref, WAIT)
    with pytest.raises(ActorNotFound):
        system.lookup("temp")
    assert events(log, "created") == ["temp"]


def test_a_transient_child_is_restarted_after_a_failure_and_that_is_the_spawn_default(system: ActorSystem) -> None:
    log: list = []
    explicit = system.spawn(Worker, log, "explicit", restart="transient")
    default = system.spawn(Worker, log, "default")
    for ref in (explicit, default):
        fail(ref)
        assert ref.ask("ping").result(WAIT) == "pong"
    assert events(log, "restarted") == ["explicit", "default"]


def test_a_failing_on_start_counts_as_a_failure_and_the_actor_is_restarted(system: ActorSystem) -> None:
    attempts: list = []
    ref = system.spawn(FlakyStart, attempts)
    assert ref.ask("how many starts?").result(WAIT) == 2
    stats = system.statistics()
    assert (stats["failures"], stats["restarts"]) == (1, 1)


def test_system_statistics_count_failures_restarts_and_actors(system: ActorSystem) -> None:
    before = system.statistics()
    parent, a, _ = parent_of_a(system, OneForOne())
    for _ in range(3):
        fail(a, parent)
    a.ask("ping").result(WAIT)
    stats = system.statistics()
    assert stats["failures"] == 3
    assert stats["restarts"] == 3
    assert stats["actors"] - before["actors"] == 2
    assert stats["started"] - before["started"] == 2


# -- Supervisor with child specs ------------------------------------------------------

@pytest.fixture
def probe(system: ActorSystem) -> TestProbe:
    return TestProbe(system)


def supervise(system: ActorSystem, probe: TestProbe, *restarts: Restart) -> tuple[ActorRef, dict[str, ActorRef]]:
    specs = [ChildSpec(Announcer, name, args=(probe.ref, name), restart=restart)
             for name, restart in zip("abc", restarts)]
    sup = system.spawn(Supervisor, specs, OneForOne(), name="sup")
    assert probe.expect_n(len(specs)) == [("created", name) for name in "abc"[:len(specs)]]
    return sup, sup.ask("children").result(WAIT)


def test_a_supervisor_starts_its_children_in_order_and_stops_them_in_reverse(
        system: ActorSystem, probe: TestProbe) -> None:
    sup, kids = supervise(system, probe, Restart.PERMANENT, Restart.PERMANENT, Restart.PERMANENT)
    assert list(kids) == ["a", "b", "c"]
    sup.stop()
    assert probe.expect_n(3) == [("stopped", "c"), ("stopped", "b"), ("stopped", "a")]
    assert system.wait_terminated(sup, WAIT)


def test_a_permanent_child_that_stops_normally_is_started_again(system: ActorSystem, probe: TestProbe) -> None:
    sup, kids = supervise(system, probe, Restart.PERMANENT)
    kids["a"].tell("stop")
    assert probe.expect_n(2) == [("stopped", "a"), ("created", "a")]
    new = sup.ask("children").result(WAIT)["a"]
    assert new != kids["a"] and new.ask("ping").result(WAIT) == "ping"


def test_a_transient_child_that_stops_normally_is_not_started_again(system: ActorSystem, probe: TestProbe) -> None:
    sup, kids = supervise(system, probe, Restart.TRANSIENT)
    kids["a"].tell("stop")
    probe.expect(("stopped", "a"))
    probe.expect_no_message(0.2)
    assert sup.ask("children").result(WAIT) == {}


def test_a_transient_child_that_fails_is_restarted_and_a_temporary_one_is_not(
        system: ActorSystem, probe: TestProbe) -> None:
    sup, kids = supervise(system, probe, Restart.TRANSIENT, Restart.TEMPORARY)
    kids["a"].tell("fail")
    assert probe.expect_n(2) == [("stopped", "a"), ("created", "a")]
    kids["b"].tell("fail")
    probe.expect(("stopped", "b"))
    probe.expect_no_message(0.2)
    assert list(sup.ask("children").result(WAIT)) == ["a"]


def test_a_supervisor_refuses_child_specs_with_duplicate_names(system: ActorSystem, probe: TestProbe) -> None:
    specs = [ChildSpec(Announcer, "same", args=(probe.ref, "1")), ChildSpec(Announcer, "same", args=(probe.ref, "2"))]
    with pytest.raises(ValueError, match="unique"):
        system.spawn(Supervisor, specs)


# -- failures that reach the guardians ------------------------------------------------

def _escalating_system(name: str) -> ActorSystem:
    return ActorSystem(name, shutdown_timeout=1.0,
                       guardian_strategy=OneForOne(decider=lambda error: Directive.ESCALATE))


def test_an_escalation_past_the_user_guardian_stops_the_user_tree_and_closes_the_system() -> None:
    system = _escalating_system("fragile")
    try:
        log: list = []
        a = system.spawn(Worker, log, "a", ("kid",))
        b = system.spawn(Worker, log, "b")
        a.ask("ping").result(WAIT)
        a.tell(("fail", ValueError))
        for ref in (a, b, system.root):
            assert system.wait_terminated(ref, WAIT)
        assert {"kid", "a", "b"} <= set(events(log, "stopped"))
        with pytest.raises(SystemClosed):
            system.spawn(Worker, log, "late")
    finally:
        system.shutdown(timeout=5)


def test_shutdown_after_a_failure_reached_the_root_still_stops_the_loop_thread() -> None:
    system = _escalating_system("fragile-2")
    a = system.spawn(Worker, [], "a")
    a.tell(("fail", ValueError))
    assert system.wait_terminated(system.root, WAIT)
    clean = system.shutdown(timeout=5)
    alive = [t.name for t in threading.enumerate() if t.name == "rayka-fragile-2"]
    assert clean is True and alive == []
