"""Supervision: the three strategies, the four directives, deciders, and escalation."""

from __future__ import annotations

import pytest
from .actorkit import WAIT, Worker, burst, events

from rayka import (
    ActorRef,
    ActorStopped,
    ActorSystem,
    AllForOne,
    ChildFailed,
    Directive,
    OneForOne,
    RestForOne,
    Strategy,
    Terminated,
)
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


def always(directive: Directive) -> OneForOne:
    return OneForOne(max_restarts=None, within=None, decider=lambda error: directive)


def family(system: ActorSystem, strategy: Strategy, kids: tuple = ("a", "b", "c"),
           probe: TestProbe | None = None) -> tuple[ActorRef, dict[str, ActorRef], list]:
    """A Worker parent with ``strategy`` over Worker children; returns the parent, its children and the log."""
    log: list = []
    parent = system.spawn(Worker, log, "parent", kids, probe.ref if probe else None, strategy, name="parent")
    children = parent.ask("children").result(WAIT)
    assert list(children) == [kid if isinstance(kid, str) else kid[0] for kid in kids]
    return parent, children, log


def bump(refs: dict[str, ActorRef], n: int = 2) -> None:
    for ref in refs.values():
        for _ in range(n):
            ref.ask("incr").result(WAIT)


def counts(refs: dict[str, ActorRef]) -> dict[str, int]:
    return {name: ref.ask("get").result(WAIT) for name, ref in refs.items()}


# -- directives -------------------------------------------------------------------

def test_resume_keeps_the_state_and_drops_the_failing_message(system: ActorSystem) -> None:
    _, kids, log = family(system, always(Directive.RESUME), kids=("a",))
    bump(kids)
    burst(system, kids["a"], [("fail", ValueError), "incr"])
    assert kids["a"].ask("get").result(WAIT) == 3
    assert events(log, "created") == ["parent", "a"]
    assert system.statistics()["failures"] == 1
    assert system.statistics().get("restarts", 0) == 0


def test_restart_builds_a_new_instance_from_the_same_args_and_calls_on_restart(system: ActorSystem) -> None:
    _, kids, log = family(system, always(Directive.RESTART), kids=("a",))
    bump(kids, 3)
    with pytest.raises(KeyError):
        kids["a"].ask(("fail", KeyError)).result(WAIT)
    assert kids["a"].ask("get").result(WAIT) == 0
    assert events(log, "created") == ["parent", "a", "a"]
    assert ("restarted", "a", "KeyError") in log
    assert log.index(("stopped", "a")) < log.index(("restarted", "a", "KeyError"))
    assert system.statistics()["restarts"] == 1


def test_restart_keeps_the_messages_queued_behind_the_failing_one_and_drops_that_one(system: ActorSystem) -> None:
    _, kids, _ = family(system, always(Directive.RESTART), kids=("a",))
    burst(system, kids["a"], [("fail", ValueError), "incr", "incr", "incr"])
    assert kids["a"].ask("get").result(WAIT) == 3
    assert system.statistics()["failures"] == 1  # the failing message was not handled again


def test_restart_stops_the_old_children_and_the_new_instance_spawns_new_ones(system: ActorSystem) -> None:
    log: list = []
    top = system.spawn(Worker, log, "top", ("mid",), None, always(Directive.RESTART), name="top")
    top.ask("ping").result(WAIT)
    mid = system.lookup("/user/top/mid")
    with pytest.raises(RuntimeError):
        top.ask(("fail", RuntimeError)).result(WAIT)
    assert top.ask("ping").result(WAIT) == "pong"
    assert system.wait_terminated(mid, WAIT)
    new_mid = system.lookup("/user/top/mid")
    assert new_mid != mid and new_mid.is_alive
    assert events(log, "created") == ["top", "mid", "top", "mid"]
    assert log.index(("stopped", "mid")) < log.index(("stopped", "top"))


def test_stop_stops_the_child_and_the_parent_gets_ChildFailed_with_the_error(system: ActorSystem) -> None:
    probe = TestProbe(system)
    _, kids, _ = family(system, always(Directive.STOP), kids=("a", "b"), probe=probe)
    with pytest.raises(ValueError):
        kids["a"].ask(("fail", ValueError)).result(WAIT)
    failed = probe.expect(ChildFailed)
    assert failed.ref == kids["a"]
    assert isinstance(failed.error, ValueError)
    assert system.wait_terminated(kids["a"], WAIT)
    assert kids["b"].ask("ping").result(WAIT) == "pong"
    with pytest.raises(ActorStopped):
        kids["a"].ask("get").result(WAIT)
    probe.expect_no_message(0.05)


def test_watchers_of_a_child_stopped_for_failing_get_a_plain_Terminated(system: ActorSystem) -> None:
    probe = TestProbe(system)
    _, kids, _ = family(system, always(Directive.STOP), kids=("a",))
    watcher = system.spawn(Worker, [], "w", (), probe.ref, name="w")
    watcher.ask(("watch", kids["a"])).result(WAIT)
    kids["a"].tell(("fail", ValueError))
    signal = probe.expect(Terminated)
    assert signal == Terminated(kids["a"])


def test_a_parent_that_also_watches_its_failed_child_gets_one_ChildFailed_and_no_Terminated(
        system: ActorSystem) -> None:
    probe = TestProbe(system)
    parent, kids, _ = family(system, always(Directive.STOP), kids=("a",), probe=probe)
    parent.ask(("watch", kids["a"])).result(WAIT)
    kids["a"].tell(("fail", ValueError))
    assert probe.expect(ChildFailed).ref == kids["a"]
    parent.tell(Terminated(parent))  # a marker: any second signal about "a" would arrive before it
    assert probe.expect(Terminated) == Terminated(parent)


# -- strategies -------------------------------------------------------------------

def test_one_for_one_restarts_only_the_failed_child(system: ActorSystem) -> None:
    _, kids, log = family(system, OneForOne())
    bump(kids)
    with pytest.raises(ValueError):
        kids["b"].ask(("fail", ValueError)).result(WAIT)
    assert counts(kids) == {"a": 2, "b": 0, "c": 2}
    assert events(log, "restarted") == ["b"]


def test_all_for_one_restarts_every_child(system: ActorSystem) -> None:
    _, kids, log = family(system, AllForOne())
    bump(kids)
    with pytest.raises(ValueError):
        kids["b"].ask(("fail", ValueError)).result(WAIT)
    assert counts(kids) == {"a": 0, "b": 0, "c": 0}
    assert sorted(events(log, "restarted")) == ["a", "b", "c"]
    assert system.statistics()["restarts"] == 3


def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it(system: ActorSystem) -> None:
    _, kids, log = family(system, RestForOne())
    bump(kids)
    with pytest.raises(ValueError):
        kids["b"].ask(("fail", ValueError)).result(WAIT)
    assert counts(kids) == {"a": 2, "b": 0, "c": 0}
    assert sorted(events(log, "restarted")) == ["b", "c"]


@pytest.mark.parametrize(("strategy", "stopped"), [(AllForOne, {"a", "b", "c"}), (RestForOne, {"b", "c"})],
                         ids=["all-for-one", "rest-for-one"])
def test_a_stop_directive_stops_every_child_the_strategy_affects(
        system: ActorSystem, strategy: type[Strategy], stopped: set[str]) -> None:
    _, kids, _ = family(system, strategy(decider=lambda error: Directive.STOP))
    kids["b"].tell(("fail", ValueError))
    assert system.wait_terminated(kids["b"], WAIT)
    for name in sorted(stopped - {"b"}):
        assert system.wait_terminated(kids[name], 1), f"{name} is still alive"
    for name in sorted(set(kids) - stopped):
        assert kids[name].ask("ping").result(WAIT) == "pong"


# -- deciders ---------------------------------------------------------------------

def test_a_mapping_decider_picks_the_most_specific_exception_type(system: ActorSystem) -> None:
    decider = {Exception: Directive.RESTART, LookupError: Directive.STOP, KeyError: Directive.RESUME}
    _, kids, _ = family(system, OneForOne(decider=decider))
    bump(kids)
    with pytest.raises(KeyError):
        kids["a"].ask(("fail", KeyError)).result(WAIT)        # KeyError -> resume
    with pytest.raises(ZeroDivisionError):
        kids["b"].ask(("fail", ZeroDivisionError)).result(WAIT)  # Exception -> restart
    with pytest.raises(IndexError):
        kids["c"].ask(("fail", IndexError)).result(WAIT)      # LookupError -> stop
    assert system.wait_terminated(kids["c"], WAIT)
    assert counts({"a": kids["a"], "b": kids["b"]}) == {"a": 2, "b": 0}


def test_a_mapping_decider_escalates_an_error_no_entry_matches(system: ActorSystem) -> None:
    log: list = []
    strict = OneForOne(decider={KeyError: Directive.RESUME})
    top = system.spawn(Worker, log, "top", (("mid", ("leaf",), strict),), None, OneForOne(), name="top")
    top.ask("ping").result(WAIT)
    system.lookup("/user/top/mid").ask("ping").result(WAIT)
    leaf = system.lookup("/user/top/mid/leaf")
    with pytest.raises(ValueError):
        leaf.ask(("fail", ValueError)).result(WAIT)
    assert system.lookup("/user/top/mid").ask("ping").result(WAIT) == "pong"
    assert ("restarted", "mid", "ValueError") in log
    assert system.statistics()["escalations"] == 1


def test_a_callable_decider_sees_the_error_and_chooses(system: ActorSystem) -> None:
    def decider(error: BaseException) -> Directive:
        return Directive.RESUME if str(error) == "a" else Directive.RESTART

    _, kids, _ = family(system, OneForOne(decider=decider), kids=("a", "b"))
    bump(kids)
    for ref in kids.values():
        with pytest.raises(ValueError):
            ref.ask(("fail", ValueError)).result(WAIT)  # Worker raises error_type(its tag)
    assert counts(kids) == {"a": 2, "b": 0}


def test_a_decider_returning_something_else_than_a_Directive_escalates(system: ActorSystem) -> None:
    log: list = []
    broken = OneForOne(decider=lambda error: "restart")  # type: ignore[arg-type, return-value]
    top = system.spawn(Worker, log, "top", (("mid", ("leaf",), broken),), None, OneForOne(), name="top")
    top.ask("ping").result(WAIT)
    system.lookup("/user/top/mid").ask("ping").result(WAIT)
    with pytest.raises(ValueError):
        system.lookup("/user/top/mid/leaf").ask(("fail", ValueError)).result(WAIT)
    assert system.lookup("/user/top/mid").ask("ping").result(WAIT) == "pong"
    assert ("restarted", "mid", "TypeError") in log


def test_strategies_are_validated_when_built() -> None:
    with pytest.raises(ValueError):
        OneForOne(max_restarts=-1)
    with pytest.raises(ValueError):
        OneForOne(within=0)
    with pytest.raises(TypeError):
        OneForOne(decider=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        OneForOne().with_backoff(min=2, max=1)
    assert OneForOne().with_limit(3, 1.0) == OneForOne(max_restarts=3, within=1.0)


# -- escalation -------------------------------------------------------------------

def test_escalate_hands_the_childs_error_to_the_grandparent(system: ActorSystem) -> None:
    seen: list[BaseException] = []

    def grandparent(error: BaseException) -> Directive:
        seen.append(error)
        return Directive.RESTART

    log: list = []
    top = system.spawn(Worker, log, "top", (("mid", ("leaf",), always(Directive.ESCALATE)),), None,
                       OneForOne(decider=grandparent), name="top")
    top.ask("ping").result(WAIT)
    mid = system.lookup("/user/top/mid")
    mid.ask("ping").result(WAIT)
    leaf = system.lookup("/user/top/mid/leaf")
    with pytest.raises(LookupError):
        leaf.ask(("fail", LookupError)).result(WAIT)
    assert mid.ask("ping").result(WAIT) == "pong"
    assert [type(error) for error in seen] == [LookupError]
    assert ("restarted", "mid", "LookupError") in log
    assert system.wait_terminated(leaf, WAIT)  # mid's restart replaced its children
    assert system.lookup("/user/top/mid/leaf").ask("get").result(WAIT) == 0


def test_an_escalation_chain_three_levels_deep_reaches_the_user_guardian(system: ActorSystem) -> None:
    log: list = []
    escalate = always(Directive.ESCALATE)
    top = system.spawn(Worker, log, "top", (("mid", ("leaf",), escalate),), None, escalate, name="top")
    top.ask("ping").result(WAIT)
    system.lookup("/user/top/mid").ask("ping").result(WAIT)
    leaf = system.lookup("/user/top/mid/leaf")
    with pytest.raises(OSError):
        leaf.ask(("fail", OSError)).result(WAIT)
    assert top.ask("ping").result(WAIT) == "pong"  # the user guardian restarted top
    assert ("restarted", "top", "OSError") in log
    system.lookup("/user/top/mid").ask("ping").result(WAIT)
    assert system.lookup("/user/top/mid/leaf").ask("ping").result(WAIT) == "pong"
    assert events(log, "created") == ["top", "mid", "leaf", "top", "mid", "leaf"]
    assert system.statistics()["escalations"] == 2
