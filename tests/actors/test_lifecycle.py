"""Lifecycle, context, lookup, death watch, and the errors for bad input."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from .actorkit import WAIT

from rayka import (
    Actor,
    ActorNotFound,
    ActorStopped,
    ActorRef,
    ActorSystem,
    InvalidActorName,
    SystemClosed,
    Terminated,
)
from rayka.testing import Probe, TestProbe

pytestmark = pytest.mark.timeout(30)


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class StartFirst(Actor):
    def __init__(self, log: list) -> None:
        self.log = log

    def on_start(self) -> None:
        self.log.append("on_start")

    def receive(self, message: Any) -> Any:
        self.log.append(message)
        return list(self.log)


class Introspect(Actor):
    """Answers questions about its own context; spawns children on request."""

    def receive(self, message: Any) -> Any:
        context = self.context
        match message:
            case "self":
                return context.self
            case "parent":
                return context.parent
            case "children":
                return context.children
            case "sender":
                return context.sender
            case ("spawn", name):
                return context.spawn(Introspect, name=name)
            case "reply-to-sender":
                context.sender.tell(("reply", context.self.name), context.self)
                return None
        return message


class Watcher(Actor):
    """Watches and unwatches refs on request; forwards every Terminated to ``out``."""

    def __init__(self, out: ActorRef) -> None:
        self.out = out

    def receive(self, message: Any) -> Any:
        match message:
            case ("watch", ref):
                self.context.watch(ref)
                return "watching"
            case ("unwatch", ref):
                self.context.unwatch(ref)
                return "unwatched"
        self.out.tell(message)
        return None


class FailingInit(Actor):
    def __init__(self) -> None:
        raise KeyError("no config")

    def receive(self, message: Any) -> Any:
        return message


class NoReceive(Actor):
    pass


@pytest.fixture
def probe(system: ActorSystem) -> TestProbe:
    return TestProbe(system)


@pytest.fixture
def watcher(system: ActorSystem, probe: TestProbe) -> ActorRef:
    return system.spawn(Watcher, probe.ref)


# -- lifecycle and context ------------------------------------------------------

def test_on_start_runs_before_the_first_message(system: ActorSystem) -> None:
    log: list = []
    ref = system.spawn(StartFirst, log)
    ref.tell("first")
    assert ref.ask("second").result(WAIT) == ["on_start", "first", "second"]


def test_context_self_is_the_actors_own_ref_and_parent_is_the_user_guardian(system: ActorSystem) -> None:
    ref = system.spawn(Introspect, name="me")
    assert ref.ask("self").result(WAIT) == ref
    assert ref.ask("parent").result(WAIT) == system.root
    assert system.root.path == "/user"
    assert (ref.path, ref.name) == ("/user/me", "me")


def test_context_children_lists_live_children_in_start_order_and_each_knows_its_parent(system: ActorSystem) -> None:
    parent = system.spawn(Introspect, name="p")
    kids = [parent.ask(("spawn", name)).result(WAIT) for name in ("k1", "k2", "k3")]
    assert [kid.path for kid in kids] == ["/user/p/k1", "/user/p/k2", "/user/p/k3"]
    assert parent.ask("children").result(WAIT) == kids
    assert kids[1].ask("parent").result(WAIT) == parent
    kids[1].stop()
    assert system.wait_terminated(kids[1], WAIT)
    assert parent.ask("children").result(WAIT) == [kids[0], kids[2]]


def test_context_sender_is_the_ref_given_to_tell_and_can_be_replied_to(system: ActorSystem, probe: TestProbe) -> None:
    ref = system.spawn(Introspect, name="replier")
    ref.tell("reply-to-sender", sender=probe.ref)
    probe.expect(("reply", "replier"))
    assert probe.last_sender == ref


def test_context_sender_is_None_when_the_sender_gave_none(system: ActorSystem) -> None:
    assert system.spawn(Introspect).ask("sender").result(WAIT) is None


def test_lookup_finds_actors_by_top_level_name_and_by_path(system: ActorSystem) -> None:
    parent = system.spawn(Introspect, name="a")
    child = parent.ask(("spawn", "b")).result(WAIT)
    assert system.lookup("a") == parent
    assert system.lookup("/user/a") == parent
    assert system.lookup("/user/a/b") == child
    with pytest.raises(ActorNotFound, match="/user/a/c"):
        system.lookup("/user/a/c")
    with pytest.raises(ActorNotFound):
        system.lookup("")


def test_refs_compare_by_actor_incarnation(system: ActorSystem) -> None:
    first = system.spawn(Echo, name="same")
    assert first == system.lookup("same") and hash(first) == hash(system.lookup("same"))
    first.stop()
    assert system.wait_terminated(first, WAIT)
    second = system.spawn(Echo, name="same")
    assert second != first
    assert second.is_alive and not first.is_alive


class SlowToBuild(Actor):
    """Its constructor waits for the test, so messages can reach it before it exists."""

    def __init__(self, building: threading.Event, go: threading.Event, fail: bool = False) -> None:
        building.set()
        assert go.wait(WAIT)
        if fail:
            raise ValueError("constructor failed on purpose")
        self.built = True

    def receive(self, message: Any) -> Any:
        return (message, self.built)


def _spawn_in_thread(system: ActorSystem, *args: Any) -> tuple[threading.Thread, list]:
    errors: list = []

    def spawn() -> None:
        try:
            system.spawn(SlowToBuild, *args, name="slow")
        except ValueError as error:
            errors.append(error)

    thread = threading.Thread(target=spawn)
    thread.start()
    return thread, errors


def test_messages_sent_while_the_constructor_runs_wait_for_the_instance(system: ActorSystem) -> None:
    building, go = threading.Event(), threading.Event()
    thread, _ = _spawn_in_thread(system, building, go)
    assert building.wait(WAIT)
    try:
        ref = system.lookup("slow")  # visible by name while another thread still builds it
        early = ref.ask("early", timeout=WAIT)
        assert system.spawn(Echo).ask("a turn of the loop").result(WAIT)  # the loop ran with the ask queued
        assert not early.done()
    finally:
        go.set()
    thread.join(WAIT)
    assert early.result(WAIT) == ("early", True)
    assert system.statistics()["failures"] == 0


def test_messages_sent_to_an_actor_whose_constructor_fails_go_to_dead_letters(system: ActorSystem) -> None:
    building, go = threading.Event(), threading.Event()
    thread, errors = _spawn_in_thread(system, building, go, True)
    assert building.wait(WAIT)
    try:
        early = system.lookup("slow").ask("early", timeout=WAIT)
    finally:
        go.set()
    thread.join(WAIT)
    assert len(errors) == 1 and "SlowToBuild for /user/slow" in str(errors[0].__notes__)
    with pytest.raises(ActorStopped):
        early.result(WAIT)
    assert system.dead_letters.count >= 1


def test_spawned_names_are_generated_and_unique_when_omitted(system: ActorSystem) -> None:
    refs = [system.spawn(Echo) for _ in range(20)]
    assert len({ref.path for ref in refs}) == 20


# -- death watch ------------------------------------------------------------------

def test_a_watcher_gets_Terminated_exactly_once_even_when_it_watched_twice(
        system: ActorSystem, probe: TestProbe, watcher: ActorRef) -> None:
    target = system.spawn(Echo)
    watcher.ask(("watch", target)).result(WAIT)
    watcher.ask(("watch", target)).result(WAIT)
    target.stop()
    assert probe.expect(Terminated) == Terminated(target)
    watcher.tell("after")
    probe.expect("after")


def test_watching_an_already_dead_ref_delivers_Terminated_once(
        system: ActorSystem, probe: TestProbe, watcher: ActorRef) -> None:
    target = system.spawn(Echo)
    target.stop()
    assert system.wait_terminated(target, WAIT)
    watcher.ask(("watch", target)).result(WAIT)
    assert probe.expect(Terminated).ref == target
    watcher.tell("after")
    probe.expect("after")


def test_unwatch_before_termination_means_no_Terminated(
        system: ActorSystem, probe: TestProbe, watcher: ActorRef) -> None:
    target = system.spawn(Echo)
    watcher.ask(("watch", target)).result(WAIT)
    watcher.ask(("unwatch", target)).result(WAIT)
    target.stop()
    assert system.wait_terminated(target, WAIT)
    watcher.tell("after")  # a Terminated would have been queued before this
    probe.expect("after")


def test_every_watcher_of_a_ref_gets_its_own_Terminated(system: ActorSystem) -> None:
    probes = [TestProbe(system) for _ in range(3)]
    watchers = [system.spawn(Watcher, p.ref) for p in probes]
    target = system.spawn(Echo)
    for w in watchers:
        w.ask(("watch", target)).result(WAIT)
    target.stop()
    for p in probes:
        assert p.expect(Terminated).ref == target


def test_when_one_of_two_watchers_unwatches_the_other_still_gets_its_Terminated(system: ActorSystem) -> None:
    probes = [TestProbe(system) for _ in range(2)]
    first, second = (system.spawn(Watcher, p.ref) for p in probes)
    target = system.spawn(Echo)
    first.ask(("watch", target)).result(WAIT)
    second.ask(("watch", target)).result(WAIT)
    first.ask(("unwatch", target)).result(WAIT)
    target.stop()
    assert probes[1].expect(Terminated).ref == target
    first.tell("after")  # a Terminated for the one that unwatched would have been queued before this
    probes[0].expect("after")
    third = system.spawn(Watcher, probes[0].ref)  # one watcher again after the set went: still told
    other = system.spawn(Echo)
    third.ask(("watch", other)).result(WAIT)
    other.stop()
    assert probes[0].expect(Terminated).ref == other


def test_wait_terminated_returns_False_on_timeout_and_True_once_stopped(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    assert system.wait_terminated(ref, 0.01) is False
    ref.stop()
    assert system.wait_terminated(ref, WAIT) is True
    assert system.wait_terminated(ref, 0) is True


# -- bad input --------------------------------------------------------------------

@pytest.mark.parametrize("not_an_actor", [int, object, "Echo", None], ids=["int", "object", "str", "None"])
def test_spawning_something_that_is_not_an_Actor_class_raises_a_helpful_TypeError(
        system: ActorSystem, not_an_actor: Any) -> None:
    with pytest.raises(TypeError, match=r"rayka\.Actor"):
        system.spawn(not_an_actor)


def test_spawning_an_actor_instance_instead_of_its_class_raises_TypeError(system: ActorSystem) -> None:
    with pytest.raises(TypeError, match="Actor"):
        system.spawn(Echo())  # type: ignore[arg-type]


def test_spawning_a_class_without_receive_raises_TypeError_naming_receive(system: ActorSystem) -> None:
    with pytest.raises(TypeError, match="NoReceive has no receive"):
        system.spawn(NoReceive)


def test_a_duplicate_name_raises_InvalidActorName_mentioning_the_path(system: ActorSystem) -> None:
    system.spawn(Echo, name="dup")
    with pytest.raises(InvalidActorName, match="/user/dup") as caught:
        system.spawn(Echo, name="dup")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ["", "a/b", "$auto", 42], ids=["empty", "slash", "dollar", "int"])
def test_a_malformed_name_raises_InvalidActorName(system: ActorSystem, name: Any) -> None:
    with pytest.raises(InvalidActorName, match="name"):
        system.spawn(Echo, name=name)


def test_a_constructor_error_propagates_from_spawn_and_frees_the_name(system: ActorSystem) -> None:
    with pytest.raises(KeyError, match="no config"):
        system.spawn(FailingInit, name="fragile")
    with pytest.raises(ActorNotFound):
        system.lookup("fragile")
    assert system.spawn(Echo, name="fragile").ask("ok").result(WAIT) == "ok"


def test_spawn_after_shutdown_raises_SystemClosed() -> None:
    system = ActorSystem("closed")
    assert system.shutdown(timeout=10)
    with pytest.raises(SystemClosed, match="closed"):
        system.spawn(Echo)


def test_a_system_name_must_be_a_non_empty_string_without_slash() -> None:
    for bad in ("", "a/b"):
        with pytest.raises(ValueError, match="system name"):
            ActorSystem(bad)


def test_the_probe_helper_answers_asks_with_its_configured_reply(system: ActorSystem) -> None:
    probe = TestProbe(system, reply="ack")
    assert probe.ref.ask("hi").result(WAIT) == "ack"
    assert probe.expect("hi") == "hi"
    with pytest.raises(AssertionError, match="got nothing"):
        probe.expect("more", timeout=0.01)
    ref = system.spawn(Probe)
    assert ref.ask("x").result(WAIT) is None


def test_get_or_spawn_returns_the_live_named_actor_instead_of_a_second_one(system: ActorSystem) -> None:
    from rayka.testing import Probe

    first = system.get_or_spawn(Probe, name="notebook-cell")
    again = system.get_or_spawn(Probe, name="notebook-cell")
    assert first == again
    assert system.statistics()["actors"] == 1
    first.stop()
    assert system.wait_terminated(first, timeout=WAIT)
    third = system.get_or_spawn(Probe, name="notebook-cell")
    assert third != first and third.is_alive


def test_get_or_spawn_refuses_a_name_held_by_another_class(system: ActorSystem) -> None:
    import rayka
    from rayka.testing import Probe

    class Other(rayka.Actor):
        def receive(self, message):
            return message

    system.spawn(Other, name="taken")
    with pytest.raises(rayka.InvalidActorName, match="Other"):
        system.get_or_spawn(Probe, name="taken")


def test_get_or_spawn_treats_a_class_defined_again_as_the_same_and_replace_restarts_it(system: ActorSystem) -> None:
    import rayka

    def define():
        class Cell(rayka.Actor):  # as if a notebook cell defining it ran twice
            def receive(self, message):
                return message
        return Cell

    first_cls, second_cls = define(), define()
    first = system.get_or_spawn(first_cls, name="cell")
    with pytest.warns(UserWarning, match="earlier definition"):
        assert system.get_or_spawn(second_cls, name="cell") == first
    fresh = system.get_or_spawn(second_cls, name="cell", replace=True)
    assert fresh != first and fresh.ask("hi", timeout=WAIT).result() == "hi"
