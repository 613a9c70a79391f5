"""rayka.Supervisor against OTP's rules (cases ported from Erlang/OTP's supervisor_SUITE)."""

from __future__ import annotations

from typing import Any

import pytest

import rayka
from rayka import (
    AllForOne, ChildError, ChildSpec, Directive, OneForOne, Restart, RestartLimitExceeded, RestForOne, Supervisor,
)
from rayka.actors import (
    ChildCount, CountChildren, DeleteChild, GetChildSpec, RestartChild, StartChild, TerminateChild, WhichChildren,
)
from rayka.testing import ManualClock, TestProbe

from .test_restarts import Announcer

pytestmark = pytest.mark.timeout(30)
WAIT = 5.0
P, T, TMP = Restart.PERMANENT, Restart.TRANSIENT, Restart.TEMPORARY


def start(system: rayka.ActorSystem, probe: TestProbe, strategy: Any, *restarts: Restart,
          names: str = "abcd") -> rayka.ActorRef:
    specs = [ChildSpec(Announcer, name, args=(probe.ref, name), restart=restart)
             for name, restart in zip(names, restarts)]
    sup = system.spawn(Supervisor, specs, strategy, name="sup")
    assert probe.expect_n(len(specs), WAIT) == [("created", name) for name in names[:len(specs)]]
    return sup


def child(sup: rayka.ActorRef, name: str) -> rayka.ActorRef:
    return sup.ask("children").result(WAIT)[name]


def test_one_for_all_stops_the_rest_in_reverse_start_order_then_starts_all_in_start_order(
        system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, AllForOne(), P, P, P)
    child(sup, "b").tell("fail")
    assert probe.expect_n(6, WAIT) == [("stopped", "b"), ("stopped", "c"), ("stopped", "a"),
                                       ("created", "a"), ("created", "b"), ("created", "c")]
    assert list(sup.ask("children").result(WAIT)) == ["a", "b", "c"]


def test_rest_for_one_stops_the_later_children_in_reverse_then_starts_them_in_order(
        system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, RestForOne(), P, P, P, P)
    first = child(sup, "a")
    child(sup, "b").tell("fail")
    assert probe.expect_n(6, WAIT) == [("stopped", "b"), ("stopped", "d"), ("stopped", "c"),
                                       ("created", "b"), ("created", "c"), ("created", "d")]
    assert child(sup, "a") == first  # started before the failed one: untouched
    probe.expect_no_message(0.1)


def test_all_for_one_never_restarts_a_temporary_child(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, AllForOne(), TMP, T)
    transient = child(sup, "b")
    child(sup, "a").tell("fail")  # a temporary child fails: it goes, its sibling is not touched
    assert probe.expect(timeout=WAIT) == ("stopped", "a")
    probe.expect_no_message(0.2)
    assert child(sup, "b") == transient
    assert [info.name for info in sup.ask(WhichChildren()).result(WAIT)] == ["b"]  # its spec went too

    sup2 = system.spawn(Supervisor, [ChildSpec(Announcer, "x", args=(probe.ref, "x"), restart=TMP),
                                     ChildSpec(Announcer, "y", args=(probe.ref, "y"), restart=T)], AllForOne())
    assert probe.expect_n(2, WAIT) == [("created", "x"), ("created", "y")]
    child(sup2, "y").tell("fail")  # a sibling fails: the temporary child is stopped and not started again
    assert probe.expect_n(3, WAIT) == [("stopped", "y"), ("stopped", "x"), ("created", "y")]
    probe.expect_no_message(0.2)
    assert list(sup2.ask("children").result(WAIT)) == ["y"]


def test_a_permanent_child_that_stops_normally_restarts_its_siblings_under_one_for_all(
        system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, AllForOne(), P, P)
    child(sup, "a").tell("stop")
    assert probe.expect_n(4, WAIT) == [("stopped", "a"), ("stopped", "b"), ("created", "a"), ("created", "b")]


def test_a_transient_child_that_stops_normally_stays_terminated_and_its_siblings_run_on(
        system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, AllForOne(), T, P)
    b = child(sup, "b")
    child(sup, "a").tell("stop")
    assert probe.expect(timeout=WAIT) == ("stopped", "a")
    probe.expect_no_message(0.2)
    assert child(sup, "b") == b
    assert [(i.name, i.status) for i in sup.ask(WhichChildren()).result(WAIT)] == [("a", "terminated"),
                                                                                   ("b", "running")]


class Parent(rayka.Actor):
    """Runs a supervisor as its child and reports how that child ended."""

    supervisor_strategy = OneForOne(decider=lambda error: Directive.STOP)

    def __init__(self, probe: rayka.ActorRef, specs: list, strategy: Any) -> None:
        self.probe, self.specs, self.strategy = probe, specs, strategy

    def on_start(self) -> None:
        self.sup = self.context.spawn(Supervisor, self.specs, self.strategy, name="sup")

    def receive(self, message: Any) -> Any:
        if message == "sup":
            return self.sup
        self.probe.tell(message)


def test_past_its_intensity_a_supervisor_stops_its_children_in_reverse_and_fails_to_its_parent(
        system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    specs = [ChildSpec(Announcer, name, args=(probe.ref, name)) for name in "abc"]
    parent = system.spawn(Parent, probe.ref, specs, OneForOne(max_restarts=2, within=60))
    assert probe.expect_n(3, WAIT) == [("created", n) for n in "abc"]
    sup = parent.ask("sup").result(WAIT)
    child(sup, "a").tell("fail")  # restart 1 (of the supervisor's, whichever child)
    assert probe.expect_n(2, WAIT) == [("stopped", "a"), ("created", "a")]
    child(sup, "c").tell("fail")  # restart 2
    assert probe.expect_n(2, WAIT) == [("stopped", "c"), ("created", "c")]
    child(sup, "b").tell("fail")  # a third within the window: it gives up
    assert probe.expect_n(3, WAIT) == [("stopped", "b"), ("stopped", "c"), ("stopped", "a")]
    ended = probe.expect(rayka.ChildFailed, timeout=WAIT)
    assert ended.ref == sup and isinstance(ended.error, RestartLimitExceeded)
    assert isinstance(ended.error.__cause__, RuntimeError)


def test_intensity_is_a_window_old_restarts_fall_out_of_it() -> None:
    clock = ManualClock()
    with rayka.ActorSystem("window", clock=clock) as system:
        probe = TestProbe(system)
        sup = start(system, probe, OneForOne(max_restarts=1, within=5.0), P)
        for _ in range(3):  # one restart per window of 5 s: never over the limit
            child(sup, "a").tell("fail")
            assert probe.expect_n(2, WAIT) == [("stopped", "a"), ("created", "a")]
            clock.advance(6.0)
        assert system.wait_terminated(sup, timeout=0.2) is False


def test_child_administration_follows_otp(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, OneForOne(), P)
    spec = ChildSpec(Announcer, "b", args=(probe.ref, "b"), restart=T)
    b = sup.ask(StartChild(spec)).result(WAIT)
    assert probe.expect(timeout=WAIT) == ("created", "b") and b.name == "b"
    with pytest.raises(ChildError) as started:
        sup.ask(StartChild(spec)).result(WAIT)
    assert started.value.reason == "already_started" and started.value.ref == b
    with pytest.raises(ChildError, match="running") as running:
        sup.ask(DeleteChild("b")).result(WAIT)
    assert running.value.reason == "running"

    assert sup.ask(TerminateChild("b")).result(WAIT) is None
    assert probe.expect(timeout=WAIT) == ("stopped", "b")
    probe.expect_no_message(0.2)  # terminated by request: not restarted
    with pytest.raises(ChildError) as present:
        sup.ask(StartChild(spec)).result(WAIT)
    assert present.value.reason == "already_present"
    assert sup.ask(CountChildren()).result(WAIT) == ChildCount(specs=2, active=1, supervisors=0, workers=2)
    assert sup.ask(GetChildSpec("b")).result(WAIT) == spec

    again = sup.ask(RestartChild("b")).result(WAIT)
    assert probe.expect(timeout=WAIT) == ("created", "b") and again != b
    sup.ask(TerminateChild("b")).result(WAIT)
    probe.expect(("stopped", "b"), timeout=WAIT)
    assert sup.ask(DeleteChild("b")).result(WAIT) is None
    for request in (TerminateChild("b"), RestartChild("b"), DeleteChild("b"), GetChildSpec("b")):
        with pytest.raises(ChildError) as missing:
            sup.ask(request).result(WAIT)
        assert missing.value.reason == "not_found"
    assert sup.ask(CountChildren()).result(WAIT) == ChildCount(specs=1, active=1, supervisors=0, workers=1)
    assert system.lookup("/user/sup/a").ask("ping").result(WAIT) == "ping"  # the supervisor never failed


def test_which_children_shows_a_child_waiting_for_its_backoff_as_restarting() -> None:
    clock = ManualClock()
    with rayka.ActorSystem("backoff", clock=clock) as system:
        probe = TestProbe(system)
        sup = start(system, probe, OneForOne().with_backoff(min=1.0, max=1.0, jitter=0.0), P)
        a = child(sup, "a")
        a.tell("fail")
        probe.expect(("stopped", "a"), timeout=WAIT)
        assert [(i.name, i.status, i.ref) for i in sup.ask(WhichChildren()).result(WAIT)] == [
            ("a", "restarting", a)]  # the same ref; what is sent to it waits in its mailbox
        with pytest.raises(ChildError) as restarting:
            sup.ask(RestartChild("a")).result(WAIT)
        assert restarting.value.reason == "restarting"
        clock.advance(1.0)
        assert probe.expect(timeout=WAIT) == ("created", "a")
        assert sup.ask(WhichChildren()).result(WAIT)[0].status == "running"


def test_a_child_restarted_after_a_failure_keeps_its_ref_and_one_that_stopped_is_found_by_name(
        system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, AllForOne(), P, P)
    a, b = child(sup, "a"), child(sup, "b")
    a.tell("fail")
    probe.expect_n(4, WAIT)
    assert (child(sup, "a"), child(sup, "b")) == (a, b)  # the same refs: senders go on as they were
    assert b.ask("ping").result(WAIT) == "ping"
    b.tell("stop")  # a permanent child that stopped normally comes back as a new incarnation
    assert probe.expect_n(4, WAIT) == [("stopped", "b"), ("stopped", "a"), ("created", "a"), ("created", "b")]
    new = system.lookup("/user/sup/b")
    assert new != b and new.ask("ping").result(WAIT) == "ping" and child(sup, "a") == a


@pytest.mark.parametrize("bad, error, match", [
    (lambda: ChildSpec(dict, "x"), TypeError, "subclass of rayka.Actor"),  # type: ignore[arg-type]
    (lambda: ChildSpec(Announcer, "x", restart="sometimes"), ValueError, "unknown restart type"),  # type: ignore
    (lambda: ChildSpec(Announcer, "x", shutdown_timeout=-1), ValueError, "shutdown_timeout"),
    (lambda: ChildSpec(Announcer, "a/b"), rayka.InvalidActorName, "invalid actor name"),
])
def test_child_specs_are_checked_when_made(bad: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        bad()


def test_restart_types_may_be_given_by_their_otp_names() -> None:
    assert ChildSpec(Announcer, "x", restart="temporary").restart is Restart.TEMPORARY  # type: ignore[arg-type]


@pytest.mark.parametrize("strategy", ["none_for_one", 42, None])
def test_an_unknown_strategy_is_refused_at_spawn(system: rayka.ActorSystem, strategy: Any) -> None:
    with pytest.raises((ValueError, TypeError), match="strategy"):
        system.spawn(Supervisor, [], strategy)


def test_otp_strategy_names_work(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    sup = start(system, probe, "rest_for_one", P, P)
    child(sup, "a").tell("fail")
    assert probe.expect_n(4, WAIT) == [("stopped", "a"), ("stopped", "b"), ("created", "a"), ("created", "b")]


class AsyncChild(rayka.Actor):
    async def receive(self, message: Any) -> Any:
        if message == "fail":
            raise RuntimeError("async failure")
        return message


def test_an_async_child_restarted_by_its_supervisor_handles_messages_again(system: rayka.ActorSystem) -> None:
    sup = system.spawn(Supervisor, [ChildSpec(AsyncChild, "a")], OneForOne(), name="sup")
    a = child(sup, "a")
    for _ in range(3):
        with pytest.raises(RuntimeError):
            a.ask("fail").result(WAIT)
        assert a.ask("ping").result(WAIT) == "ping"  # it was woken after its restart
    assert a._cell._record.total == 3  # what the system's tree shows
