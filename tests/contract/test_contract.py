"""The contracts of docs/design.md, run the same on the embedded runtime and on a Ray cluster."""

from __future__ import annotations

import re
import threading
import time

import pytest

import rayka
from rayka.testing import TestProbe
from tests.contract.contract_actors import (
    Account, Burst, Caller, CrossSpawner, Never, Ordered, Publisher, Recorder, Resuming, Watcher,
)

pytestmark = pytest.mark.timeout(60)


def test_tells_from_one_sender_arrive_in_the_order_sent(backend):
    receiver = backend.system.spawn(Recorder, node=backend.at(1))
    sender = backend.system.spawn(Burst, node=backend.at(0))
    assert sender.ask((receiver, 3_000), timeout=10).result() == 3_000
    # The sender has sent them all; on a cluster some may still be on the sender's stream, which this ask
    # (from the driver, on another stream) can overtake: wait for all 3,000, then check their order.
    deadline = time.monotonic() + 30
    while len(seen := receiver.ask("seen", timeout=10).result()) < 3_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen == list(range(3_000))  # none lost, none duplicated, in the order sent


def test_ask_returns_the_reply_the_handlers_error_or_a_timeout(backend):
    ref = backend.system.spawn(Recorder, node=backend.at(1))
    assert ref.ask("a", timeout=10).result() == 1
    with pytest.raises(ValueError, match="bad input"):
        ref.ask(("fail", "bad input"), timeout=10).result()
    never = backend.system.spawn(Never, node=backend.at(0))
    with pytest.raises(rayka.AskTimeout):
        never.ask("hello?", timeout=0.2).result()


def test_a_watcher_gets_terminated_once_when_the_watched_actor_stops(backend):
    target = backend.system.spawn(Recorder, node=backend.at(1))
    watcher = backend.system.spawn(Watcher, node=backend.at(0))
    assert watcher.ask(("watch", target), timeout=10).result() is True
    target.stop()
    assert backend.system.wait_terminated(target, timeout=10)
    for _ in range(200):  # Terminated is queued behind what the watcher handles; ask until it is seen
        if watcher.ask("terminated", timeout=10).result():
            break
    assert watcher.ask("terminated", timeout=10).result() == [target.path]


def test_wait_terminated_times_out_while_the_actor_lives_and_returns_once_it_stopped(backend):
    ref = backend.system.spawn(Recorder, node=backend.at(1))
    assert backend.system.wait_terminated(ref, timeout=0.1) is False
    ref.stop()
    assert backend.system.wait_terminated(ref, timeout=10) is True
    assert not ref.is_alive
    with pytest.raises(rayka.ActorStopped):
        ref.ask("seen", timeout=10).result()


def test_supervision_directives_resume_restart_and_stop_a_child(backend):
    parent = backend.system.spawn(Resuming, backend.at(1), node=backend.at(0))
    child = parent.ask("child", timeout=10).result()
    child.tell("x")
    child.tell("y")
    with pytest.raises(ValueError):
        child.ask(("raise", "value"), timeout=10).result()
    assert child.ask("count", timeout=10).result() == 2  # resumed: state kept
    with pytest.raises(KeyError):
        child.ask(("raise", "key"), timeout=10).result()
    assert child.ask("count", timeout=10).result() == 0  # restarted: a new instance
    with pytest.raises(TypeError):
        child.ask(("raise", "type"), timeout=10).result()
    assert backend.system.wait_terminated(child, timeout=10)  # stopped


def test_stop_is_ordered_children_before_their_parent(backend):
    log = TestProbe(backend.system)
    parent = backend.system.spawn(Ordered, log.ref, backend.at(1), node=backend.at(0))
    assert parent.ask("children", timeout=10).result() == 3
    parent.stop()
    # when each on_stop ran, not when its report arrived: on a cluster the parent's report (from its node)
    # and the children's (from theirs) come on different streams, whose arrival order is not a stop order
    seen = sorted((log.expect(timeout=10) for _ in range(4)), key=lambda entry: entry[1])
    assert [label for label, _ in seen] == ["child-2", "child-1", "child-0", "parent"]


def test_a_name_is_visible_everywhere_and_free_again_once_its_actor_stopped(backend):
    system = backend.system
    ref = system.spawn(Recorder, name="contract-named", node=backend.at(1))
    assert system.lookup("contract-named") == ref
    with pytest.raises(rayka.InvalidActorName):
        system.spawn(Recorder, name="contract-named", node=backend.at(0))
    ref.stop()
    assert system.wait_terminated(ref, timeout=10)
    with pytest.raises(rayka.ActorNotFound):
        system.lookup("contract-named")
    again = system.spawn(Recorder, name="contract-named", node=backend.at(0))
    assert again != ref and system.lookup("contract-named") == again
    replaced = system.get_or_spawn(Recorder, name="contract-named", replace=True)
    assert replaced != again and system.lookup("contract-named") == replaced
    replaced.stop()
    assert system.wait_terminated(replaced, timeout=10)


def test_dead_letters_of_any_node_are_counted_and_seen_by_subscribers(backend):
    system = backend.system
    ref = system.spawn(Recorder, node=backend.at(1))
    forwarder = system.spawn(Burst, node=backend.at(0))
    ref.stop()
    assert system.wait_terminated(ref, timeout=10)
    got: list = []
    done = threading.Event()

    def seen(letter):
        if letter.recipient == ref.path:
            got.append(letter)
            if len(got) == 5:
                done.set()

    before = system.dead_letters.count
    unsubscribe = system.dead_letters.subscribe(seen)
    try:
        forwarder.ask((ref, 5), timeout=10).result()  # sent from an actor, on its node
        assert done.wait(10), got
    finally:
        unsubscribe()
    assert system.dead_letters.count >= before + 5
    assert [letter.message for letter in got] == [0, 1, 2, 3, 4]


def test_statistics_count_the_failures_and_restarts_of_every_node(backend):
    system = backend.system
    before = system.statistics()
    parent = system.spawn(Resuming, backend.at(1), node=backend.at(0))
    child = parent.ask("child", timeout=10).result()
    with pytest.raises(KeyError):
        child.ask(("raise", "key"), timeout=10).result()
    assert child.ask("count", timeout=10).result() == 0
    after = system.statistics()
    assert after["failures"] >= before["failures"] + 1
    assert after["restarts"] >= before["restarts"] + 1
    assert after["actors"] >= 2
    shown = re.search(r"actors=(\d+)", repr(system))
    assert shown is not None and int(shown.group(1)) >= 2


def test_ref_statistics_count_what_the_actor_processed(backend):
    ref = backend.system.spawn(Recorder, node=backend.at(1))
    for i in range(10):
        ref.tell(i)
    assert ref.ask("seen", timeout=10).result() == list(range(10))
    stats = ref.statistics()
    assert stats.processed == 11 and stats.queued == 0


def test_two_actors_spawning_children_on_each_others_node_at_once_both_progress(backend):
    a = backend.system.spawn(CrossSpawner, node=backend.at(0))
    b = backend.system.spawn(CrossSpawner, node=backend.at(1))
    replies = [a.ask((backend.at(1), "from a"), timeout=20), b.ask((backend.at(0), "from b"), timeout=20)]
    assert [reply.result() for reply in replies] == [1, 1]


def test_a_test_probe_gets_messages_and_asks_from_actors_anywhere(backend):
    probe = TestProbe(backend.system, reply="pong")
    sender = backend.system.spawn(Burst, node=backend.at(1))
    sender.tell((probe.ref, 3))
    assert [probe.expect(timeout=10) for _ in range(3)] == [0, 1, 2]


def test_a_publish_on_one_node_reaches_subscribers_on_every_node(backend):
    system = backend.system
    here = system.spawn(Publisher, node=backend.at(0))
    there = system.spawn(Publisher, node=backend.at(1))
    probe_a, probe_b = TestProbe(system), TestProbe(system)
    topic = f"news-{id(probe_a)}"
    here.ask(("subscribe", topic, probe_a.ref), timeout=10).result()
    there.ask(("subscribe", topic, probe_b.ref), timeout=10).result()
    got = None
    for _ in range(100):  # interest travels between the nodes' topics actors: publish until it has arrived
        assert there.ask(("publish", topic, "hello"), timeout=10).result() >= 1
        try:
            got = probe_a.expect("hello", timeout=0.1)
            break
        except AssertionError:
            continue
    assert got == "hello"
    assert probe_b.expect(timeout=10) == "hello"


def test_replies_can_be_awaited_polled_and_collected_later(backend):
    import asyncio

    ref = backend.system.spawn(Recorder, node=backend.at(1))

    async def ask_twice():
        return [await ref.ask("awaited", timeout=10), await ref.ask("again", timeout=10)]

    assert asyncio.run(ask_twice()) == [1, 2]
    replies = [ref.ask(i, timeout=10) for i in range(50)]  # none waited for until all are sent
    assert [reply.result() for reply in replies] == list(range(3, 53))
    polled = ref.ask("polled", timeout=10)
    done = threading.Event()
    polled.add_done_callback(lambda _: done.set())
    assert done.wait(10) and polled.done() and polled.result() == 53


def test_method_calls_run_in_order_with_messages_and_refuse_bad_calls_without_failing(backend):
    account = backend.system.spawn(Account, node=backend.at(1))
    proxy = account.proxy(timeout=10)
    proxy.deposit.tell(5)
    account.tell("hello")
    assert proxy.deposit(7, note="second").result() == 12
    assert account.call(Account.deposit, 1).result() == 13
    assert proxy.total.result() == 13
    assert proxy.audit().result() == [("deposit", 5, ""), ("message", "hello"), ("deposit", 7, "second"),
                                      ("deposit", 1, "")]
    with pytest.raises(AttributeError, match=r"Account actor .* has no attribute 'withdraw'.*deposit"):
        proxy.withdraw(1).result()
    with pytest.raises(AttributeError, match="private names"):
        account.ask(rayka.actors.spi.Call("_secret", ()), timeout=10).result()
    with pytest.raises(TypeError, match=r"deposit\(\)"):
        proxy.deposit(1, 2, 3).result()
    with pytest.raises(ValueError, match="account crashed"):  # an error inside the method is a failure
        proxy.crash().result()
    assert proxy.total.result() == 0  # ... so the supervisor restarted it; refusals before did not


def test_a_proxy_travels_inside_a_message_and_is_called_from_an_actor(backend):
    account = backend.system.spawn(Account, node=backend.at(1))
    caller = backend.system.spawn(Caller, node=backend.at(0))
    assert caller.ask((account.proxy(timeout=10), [1, 2, 3]), timeout=10).result() == 6
    assert account.proxy().audit().result(timeout=10)[-1] == ("deposit", 0, "from an actor")


def test_gather_and_wait_combine_replies_from_every_node(backend):
    refs = [backend.system.spawn(Account, node=backend.at(i % 2)) for i in range(4)]
    calls = [ref.proxy(timeout=10).deposit(i + 1) for i, ref in enumerate(refs)]
    assert rayka.gather(calls, timeout=10).result() == [1, 2, 3, 4]
    done, pending = rayka.wait([ref.ask("m", timeout=10) for ref in refs], num_returns=4, timeout=10).result()
    assert [reply.result() for reply in done] == [2, 2, 2, 2] and pending == []
    assert [f.result(timeout=10) for f in [ref.proxy().total.read().future() for ref in refs]] == [1, 2, 3, 4]
