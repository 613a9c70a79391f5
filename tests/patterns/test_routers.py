"""Routers: each logic's choice rule, asks through routers, routees dying, pools resized."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from .patterns_support import Gate, Recorder, Tally

import rayka
from rayka.patterns import (
    AddRoutee,
    Broadcast,
    ConsistentHashing,
    GetRoutees,
    Group,
    NoRoutees,
    Pool,
    Random,
    RemoveRoutee,
    Resize,
    RoundRobin,
    ScatterGatherFirst,
    SmallestMailbox,
    ToAll,
)
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


def probes(system: rayka.ActorSystem, n: int, reply: Any = None) -> list[TestProbe]:
    return [TestProbe(system, name=f"probe-{i}", reply=reply) for i in range(n)]


def received(probe: TestProbe) -> list[Any]:
    out = []
    while not probe.inbox.empty():
        out.append(probe.inbox.get()[0])
    return out


def settle(router: rayka.ActorRef) -> tuple[rayka.ActorRef, ...]:
    """Wait until the router has handled what was sent to it before, and the signals posted before; return its routees.

    A ``Terminated`` posted to the router joins its mailbox behind what is
    queued there, so the first ask flushes it in and the second comes after it.
    """
    router.ask(GetRoutees()).result(timeout=5)
    return router.ask(GetRoutees()).result(timeout=5)


def test_round_robin_sends_to_each_routee_in_turn(system: rayka.ActorSystem) -> None:
    ps = probes(system, 3)
    group = system.spawn(Group, [p.ref for p in ps], RoundRobin())
    for n in range(9):
        group.tell(n)
    for i, p in enumerate(ps):
        assert [p.expect() for _ in range(3)] == [i, i + 3, i + 6]


def test_random_routing_follows_its_seeded_random_sequence(system: rayka.ActorSystem) -> None:
    ps = probes(system, 3)
    group = system.spawn(Group, [p.ref for p in ps], Random(seed=7))
    for n in range(30):
        group.tell(n)
    rng = random.Random(7)
    expected: dict[int, list[int]] = {0: [], 1: [], 2: []}
    for n in range(30):
        expected[rng.randrange(3)].append(n)
    for i, p in enumerate(ps):
        assert [p.expect() for _ in range(len(expected[i]))] == expected[i]
        p.expect_no_message(0.01)


class Blocker(rayka.Actor):
    """Holds its first message until the gate opens; records everything it handles."""

    def __init__(self, gate: Gate, log: list) -> None:
        self.gate = gate
        self.log = log

    async def receive(self, message: Any) -> None:
        self.log.append(message)
        await self.gate.wait()


def test_smallest_mailbox_skips_a_routee_with_a_backlog(system: rayka.ActorSystem) -> None:
    gate, busy_log = Gate(), []
    busy = system.spawn(Blocker, gate, busy_log)
    for n in range(5):
        busy.tell(("backlog", n))  # one being handled, four queued
    log: list = []
    done = threading.Event()
    idle = [system.spawn(Recorder, log, done, 6) for _ in range(2)]
    group = system.spawn(Group, [busy, *idle], SmallestMailbox())
    for n in range(6):
        group.tell(n)
    assert done.wait(10)
    assert sorted(message for _, message in log) == list(range(6))
    assert {name for name, _ in log} == {ref.name for ref in idle}
    gate.open()
    assert busy.ask("last", timeout=15).result() is None
    assert busy_log == [("backlog", n) for n in range(5)] + ["last"]


def test_consistent_hashing_sends_each_key_to_one_routee_in_order(system: rayka.ActorSystem) -> None:
    log: list = []
    done = threading.Event()
    pool = system.spawn(Pool, Recorder, 4, ConsistentHashing(key=lambda m: m[0]), args=(log, done, 400))
    for seq in range(20):
        for key in range(20):
            pool.tell((f"user-{key}", seq))
    assert done.wait(10)
    owners: dict[str, set[str]] = {}
    order: dict[str, list[int]] = {}
    for routee, (key, seq) in log:
        owners.setdefault(key, set()).add(routee)
        order.setdefault(key, []).append(seq)
    assert all(len(names) == 1 for names in owners.values())
    assert all(seqs == list(range(20)) for seqs in order.values())
    assert len({next(iter(names)) for names in owners.values()}) > 1  # keys are spread


def test_consistent_hashing_gives_a_replaced_routee_its_keys_back(system: rayka.ActorSystem) -> None:
    pool = system.spawn(Pool, Recorder, 3, ConsistentHashing(key=lambda m: m), args=([],))
    before = {key: pool.ask(key).result(timeout=5)[0] for key in range(30)}
    victim = pool.ask(GetRoutees()).result(timeout=5)[0]
    victim.stop()
    assert system.wait_terminated(victim, 5)
    routees = settle(pool)
    assert len(routees) == 3 and victim not in routees
    after = {key: pool.ask(key).result(timeout=5)[0] for key in range(30)}
    assert after == before


def test_broadcast_sends_every_message_to_every_routee(system: rayka.ActorSystem) -> None:
    ps = probes(system, 3, reply="ok")
    group = system.spawn(Group, [p.ref for p in ps], Broadcast())
    group.tell("news")
    assert [p.expect() for p in ps] == ["news"] * 3
    assert group.ask("poll").result(timeout=5) == ["ok", "ok", "ok"]


def test_to_all_reaches_every_routee_whatever_the_logic(system: rayka.ActorSystem) -> None:
    ps = probes(system, 3)
    group = system.spawn(Group, [p.ref for p in ps], RoundRobin())
    group.tell(ToAll("config changed"))
    assert [p.expect() for p in ps] == ["config changed"] * 3


class Slow(rayka.Actor):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    async def receive(self, message: Any) -> str:
        await self.gate.wait()
        return "slow"


class Fast(rayka.Actor):
    def receive(self, message: Any) -> str:
        return "fast"


class Failing(rayka.Actor):
    def receive(self, message: Any) -> None:
        raise ValueError(f"cannot handle {message!r}")


def test_scatter_gather_answers_with_the_first_reply(system: rayka.ActorSystem) -> None:
    gate = Gate()
    group = system.spawn(Group, [system.spawn(Slow, gate), system.spawn(Fast)], ScatterGatherFirst())
    try:
        assert group.ask("who?").result(timeout=5) == "fast"
    finally:
        gate.open()


def test_scatter_gather_fails_only_when_every_routee_failed(system: rayka.ActorSystem) -> None:
    group = system.spawn(Group, [system.spawn(Failing), system.spawn(Failing)], ScatterGatherFirst())
    with pytest.raises(ValueError, match="cannot handle"):
        group.ask("x").result(timeout=5)
    mixed = system.spawn(Group, [system.spawn(Failing), system.spawn(Fast)], ScatterGatherFirst())
    assert mixed.ask("x").result(timeout=5) == "fast"


def test_scatter_gather_tells_the_first_reply_to_the_sender(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    group = system.spawn(Group, [system.spawn(Fast), system.spawn(Fast)], ScatterGatherFirst())
    group.tell("who?", sender=probe.ref)
    probe.expect("fast")
    probe.expect_no_message(0.05)


def test_an_ask_through_a_pool_is_answered_by_a_routee(system: rayka.ActorSystem) -> None:
    pool = system.spawn(Pool, Recorder, 2, RoundRobin(), args=([],))
    replies = [pool.ask(n) for n in range(4)]
    assert [r.result(timeout=5) for r in replies] == [
        ("routee-0", 0), ("routee-1", 1), ("routee-0", 2), ("routee-1", 3)]


def test_a_routee_error_fails_the_ask_and_the_routee_is_restarted(system: rayka.ActorSystem) -> None:
    pool = system.spawn(Pool, Failing, 1)
    routee = pool.ask(GetRoutees()).result(timeout=5)[0]
    with pytest.raises(ValueError, match="cannot handle 'boom'"):
        pool.ask("boom").result(timeout=5)
    assert pool.ask(GetRoutees()).result(timeout=5) == (routee,)
    assert routee.is_alive


def test_a_tell_through_a_router_keeps_its_sender(system: rayka.ActorSystem) -> None:
    class Answer(rayka.Actor):
        def receive(self, message: Any) -> None:
            self.context.sender.tell(("answer", message))

    probe = TestProbe(system)
    pool = system.spawn(Pool, Answer, 2)
    pool.tell("q", sender=probe.ref)
    probe.expect(("answer", "q"))


def test_a_router_without_routees_fails_asks_and_dead_letters_tells(system: rayka.ActorSystem) -> None:
    group = system.spawn(Group, [])
    with pytest.raises(NoRoutees, match="no live routees"):
        group.ask("hello").result(timeout=5)
    before = system.dead_letters.count
    group.tell("hello")
    settle(group)
    assert system.dead_letters.count == before + 1
    assert system.dead_letters.recent(1)[0].reason == "no routees"


def test_a_group_drops_a_routee_that_dies_and_routes_to_the_rest(system: rayka.ActorSystem) -> None:
    ps = probes(system, 3)
    group = system.spawn(Group, [p.ref for p in ps], RoundRobin())
    ps[1].ref.stop()
    assert system.wait_terminated(ps[1].ref, 5)
    assert settle(group) == (ps[0].ref, ps[2].ref)
    letters = system.dead_letters.count
    for n in range(6):
        group.tell(n)
    assert [ps[0].expect() for _ in range(3)] == [0, 2, 4]
    assert [ps[2].expect() for _ in range(3)] == [1, 3, 5]
    assert system.dead_letters.count == letters


def test_a_group_takes_routees_added_and_removed(system: rayka.ActorSystem) -> None:
    ps = probes(system, 2)
    group = system.spawn(Group, [ps[0].ref])
    assert group.ask(AddRoutee(ps[1].ref)).result(timeout=5) == 2
    assert group.ask(RemoveRoutee(ps[0].ref)).result(timeout=5) == 1
    group.tell("only one")
    ps[1].expect("only one")
    ps[0].expect_no_message(0.02)


class Quitter(rayka.Actor):
    """Records what it handles; stops itself on "quit" (what is left in its mailbox goes to dead letters)."""

    def __init__(self, handled: list, quitted: list, tally: Tally) -> None:
        self.handled = handled
        self.quitted = quitted
        self.tally = tally

    def receive(self, message: Any) -> None:
        if message == "quit":
            self.quitted.append(self.context.self)
            self.context.stop()
        else:
            self.handled.append(message)
        self.tally.add()


def test_routees_dying_mid_stream_are_replaced_and_no_message_vanishes(system: rayka.ActorSystem) -> None:
    handled: list = []
    quitted: list = []
    lost: list = []
    tally = Tally(300)
    pool = system.spawn(Pool, Quitter, 3, RoundRobin(), args=(handled, quitted, tally))
    first = set(settle(pool))

    def dead(letter: rayka.DeadLetter) -> None:
        lost.append(letter.message)
        tally.add()

    unsubscribe = system.dead_letters.subscribe(dead)
    try:
        for n in range(300):
            pool.tell("quit" if n % 50 == 7 else n)
        assert tally.wait(10)  # every message handled or dead-lettered
        for ref in quitted:
            assert system.wait_terminated(ref, 5)
        routees = settle(pool)
        assert len(routees) == 3 and all(r.is_alive for r in routees)
        assert not set(routees) & set(quitted)
        assert set(routees) != first
        ints = sorted([m for m in handled] + [m for m in lost if m != "quit"])
        assert ints == [n for n in range(300) if n % 50 != 7]
        before = len(lost)
        tally.expected += 30
        for n in range(30):  # the pool sends only to live routees now
            pool.tell(n)
        assert tally.wait(10)
        assert len(lost) == before
    finally:
        unsubscribe()


def test_a_pool_grows_and_shrinks_and_shrunk_routees_finish_their_mailbox(system: rayka.ActorSystem) -> None:
    log: list = []
    done = threading.Event()
    pool = system.spawn(Pool, Recorder, 2, RoundRobin(), args=(log, done, 40))
    assert pool.ask(Resize(4)).result(timeout=5) == 4
    routees = pool.ask(GetRoutees()).result(timeout=5)
    assert [r.name for r in routees] == ["routee-0", "routee-1", "routee-2", "routee-3"]
    letters = system.dead_letters.count
    for n in range(40):
        pool.tell(n)
    assert pool.ask(Resize(1)).result(timeout=5) == 1
    assert done.wait(10)
    for ref in routees[1:]:
        assert system.wait_terminated(ref, 5)
    assert sorted(m for _, m in log) == list(range(40))
    assert system.dead_letters.count == letters
    assert pool.ask(GetRoutees()).result(timeout=5) == (routees[0],)


class DiesAtOnce(rayka.Actor):
    def on_start(self) -> None:
        self.context.stop()

    def receive(self, message: Any) -> None:
        pass


class Parent(rayka.Actor):
    """Spawns a pool of routees that die at once; reports the pool's failure to a probe."""

    supervisor_strategy = rayka.OneForOne(decider=lambda error: rayka.Directive.STOP)

    def __init__(self, probe: rayka.ActorRef) -> None:
        self.probe = probe

    def on_start(self) -> None:
        strategy = rayka.OneForOne(max_restarts=3, within=60.0)
        self.context.watch(self.context.spawn(Pool, DiesAtOnce, 2, strategy=strategy, name="pool"))

    def receive(self, message: Any) -> None:
        self.probe.tell(message)


def test_a_pool_whose_routees_keep_dying_fails_past_its_restart_limit(system: rayka.ActorSystem) -> None:
    probe = TestProbe(system)
    system.spawn(Parent, probe.ref)
    failed = probe.expect(rayka.ChildFailed, timeout=10)
    assert "died more than 3 times" in str(failed.error)


class Stuck(rayka.Actor):
    """Tells a probe it has started on a message, then waits for the gate."""

    def __init__(self, gate: Gate, probe: rayka.ActorRef) -> None:
        self.gate, self.probe = gate, probe

    async def receive(self, message: Any) -> None:
        self.probe.tell(("started", message))
        await self.gate.wait()


def test_an_ask_to_a_routee_with_a_full_mailbox_fails_and_the_router_goes_on(system: rayka.ActorSystem) -> None:
    from rayka.mailbox import Bounded

    gate, probe = Gate(), TestProbe(system)
    full = system.spawn(Stuck, gate, probe.ref, mailbox=Bounded(1, overflow="fail"))
    full.tell("being handled")
    probe.expect(("started", "being handled"))
    full.tell("queued")  # the mailbox is full now
    group = system.spawn(Group, [full])
    try:
        with pytest.raises(rayka.MailboxFull):
            group.ask("one more").result(timeout=5)
        assert settle(group) == (full,)
    finally:
        gate.open()
