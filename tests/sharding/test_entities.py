"""Sharded entities, embedded: one process runs every shard; the same API as on a cluster."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import rayka
from rayka.persistence import SqliteJournal
from rayka.sharding import EntityStatistics, persistence_id
from tests.sharding.entity_actors import Cart, Ledger, Tally

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def system():
    with rayka.ActorSystem("sharding") as system:
        yield system


def test_an_entity_starts_on_its_first_message_with_its_id_and_arguments(system) -> None:
    carts = system.entities(Cart, "shop", name="cart")
    assert carts.ref("alice").ask("whoami", timeout=5).result()[:2] == ["alice", "shop"]
    assert carts.ref(7).ask("whoami", timeout=5).result()[:2] == [7, "shop"]
    assert system.entities(Cart, name="cart") is carts  # the same call returns the running entities
    assert carts.ref("alice") == carts.ref("alice") and hash(carts.ref("alice")) == hash(carts.ref("alice"))
    assert carts.ref("alice").path == "/entities/cart/alice"


def test_each_id_has_one_incarnation_under_concurrent_first_messages_and_order_per_sender_holds(system) -> None:
    carts = system.entities(Cart, name="cart", shards=8)
    ids = [f"user-{i}" for i in range(10)]
    tokens: dict[str, set] = {entity_id: set() for entity_id in ids}
    lock = threading.Lock()
    start = threading.Barrier(8)

    def sender(k: int) -> None:
        start.wait()
        replies = [(entity_id, carts.ref(entity_id).ask(["seq", f"s{k}", n], timeout=10))
                   for n in range(50) for entity_id in ids]
        for entity_id, reply in replies:
            _, token = reply.result()
            with lock:
                tokens[entity_id].add(token)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(len(seen) == 1 for seen in tokens.values()), tokens  # never two incarnations
    for entity_id in ids:
        _, by_sender, _, _ = carts.ref(entity_id).ask("state", timeout=5).result()
        assert by_sender == {f"s{k}": list(range(50)) for k in range(8)}  # all there, in order per sender
    stats = carts.statistics()
    assert stats.active == 10 and stats.activations == 10 and stats.shards_per_node["local"] <= 8


def test_idle_entities_are_passivated_and_a_message_racing_passivation_is_delivered(system) -> None:
    carts = system.entities(Cart, name="cart", passivate_after=0.1)
    first = carts.ref("bob").ask("whoami", timeout=5).result()[3]
    replies = []
    for i in range(60):  # around the passivation time: some arrive while it stops
        replies.append(carts.ref("bob").ask(f"item-{i}", timeout=10))
        time.sleep(0.005 * (i % 30))
    counts = [reply.result() for reply in replies]
    assert len(counts) == 60  # every message was answered: none lost to a passivation
    stats = carts.statistics()
    assert stats.passivations >= 1 and stats.activations >= 2
    assert carts.ref("bob").ask("whoami", timeout=5).result()[3] != first  # a new incarnation
    carts.ref("bob").stop()  # stopping an entity ref passivates it
    assert carts.ref("bob").ask("state", timeout=5).result()[0] == []  # a fresh one, started again


def test_a_persistent_entity_keeps_its_events_across_passivation(system, tmp_path) -> None:
    ledgers = system.entities(Ledger, str(tmp_path / "events.db"), name="ledger", passivate_after=0.1)
    acknowledged = [ledgers.ref("acct-1").ask(amount, timeout=5).result() for amount in (10, 20, 30)]
    assert acknowledged == [1, 2, 3]
    deadline = time.monotonic() + 10
    while ledgers.statistics().passivations == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ledgers.statistics().passivations == 1 and ledgers.statistics().active == 0
    assert ledgers.ref("acct-1").ask("events", timeout=5).result()[0] == [10, 20, 30]  # recovered


def test_a_persistent_entity_without_a_persistence_id_gets_one_from_its_type_and_id(system, tmp_path) -> None:
    journal = SqliteJournal(tmp_path / "events.db")
    ledgers = system.entities(Ledger, journal, name="ledger")
    assert ledgers.ref("acct-1").ask(5, timeout=5).result() == 1
    assert ledgers.ref(7).ask(6, timeout=5).result() == 1
    assert ledgers.ref("acct-1").ask("persistence_id", timeout=5).result() == "ledger|acct-1"
    assert ledgers.ref(7).ask("persistence_id", timeout=5).result() == "ledger|#7"  # not the str "7"'s
    assert [persistence_id("ledger", "acct-1"), persistence_id("ledger", 7)] == ["ledger|acct-1", "ledger|#7"]
    system.shutdown()
    assert [event for _, event in journal.recover("ledger|acct-1").replay()] == [5]
    journal.close()
    with rayka.ActorSystem("plain") as other, pytest.raises(ValueError, match=r"Ledger: give a persistence_id \(only "
                                                                             r"a sharded entity"):
        other.spawn(Ledger, "acct-1", str(tmp_path / "other.db"))


def test_entity_refs_travel_in_messages_and_method_calls_reach_entities(system) -> None:
    carts = system.entities(Cart, name="cart")
    answer = carts.ref("carol").ask(["via", carts.ref("dave")], timeout=5).result()
    assert answer[0] == "dave"
    assert carts.ref("erin").proxy(timeout=5).add("pen").result() == 1
    carts.ref("erin").cast(Cart.add, "ink")
    assert carts.ref("erin").ask("state", timeout=5).result()[0] == ["pen", "ink"]


def test_bad_ids_names_and_messages_get_clear_errors(system) -> None:
    carts = system.entities(Cart, name="cart")
    with pytest.raises(TypeError, match="an entity id is a str or an int"):
        carts.ref(("a", "b"))
    with pytest.raises(ValueError, match="entities need a name"):
        system.entities(Cart, name="")
    region = system.lookup("rayka.entities.cart.local")
    with pytest.raises(TypeError, match="takes entity messages through entities.ref"):
        region.ask("hello", timeout=5).result()
    coordinator = system.lookup("rayka.entities.cart")
    with pytest.raises(TypeError, match="a spread request is the list a node's system.entities"):
        coordinator.ask(["spread", "cart", 1, 2], timeout=5).result()  # damaged: refused, nothing else touched
    assert carts.ref("alice").ask("whoami", timeout=5).result()[0] == "alice"
    assert isinstance(carts.statistics(), EntityStatistics)


def test_a_shard_being_moved_gets_no_second_home_when_a_region_joins_meanwhile(system) -> None:
    from rayka.sharding._coordinator import Coordinator
    from rayka.sharding._messages import (
        BeginHandOff, DrainRegion, GetHome, HandOff, HomeIs, Register, ShardStopped,
    )
    from rayka.testing import TestProbe

    coordinator = system.spawn(Coordinator, False, 3600.0)  # no rebalance tick during the test
    a, b, c = TestProbe(system), TestProbe(system), TestProbe(system)
    coordinator.tell(Register(a.ref, "a", True))
    coordinator.tell(GetHome(0, a.ref))
    assert a.expect(HomeIs, timeout=5) == HomeIs(0, a.ref)
    coordinator.tell(Register(b.ref, "b", True))
    drained = coordinator.ask(DrainRegion("a"), timeout=10)  # shard 0 moves off a
    assert a.expect(BeginHandOff, timeout=5).shard == 0 and a.expect(HandOff, timeout=5).shard == 0
    assert b.expect(BeginHandOff, timeout=5).shard == 0
    coordinator.tell(GetHome(0, b.ref))  # b asks while the shard moves: it waits
    coordinator.tell(Register(c.ref, "c", True))  # a region joins meanwhile: no home yet
    b.expect_no_message(0.3)
    c.expect_no_message(0.1)
    coordinator.tell(ShardStopped(0, a.ref))  # the old home stopped it: now, one home
    home = b.expect(HomeIs, timeout=5).region
    assert home in (b.ref, c.ref) and c.expect(HomeIs, timeout=5).region == home
    assert drained.result(timeout=5) is True


def test_the_old_home_hands_its_entities_what_arrives_before_the_fences_even_after_its_hand_off_began(
        system) -> None:
    from rayka.sharding._messages import (
        BeginHandOff, Deliver, GetHome, HandOff, HomeIs, Register, ShardStopped,
    )
    from rayka.sharding._refs import shard_of
    from rayka.sharding._region import Region
    from rayka.testing import TestProbe

    coordinator = TestProbe(system)
    region = system.spawn(Region, "moved", Cart, (), {}, 4, coordinator.ref, "here", True, None, False)
    assert coordinator.expect(Register, timeout=5).region == region
    shard = shard_of("x", 4)
    region.tell(Deliver("x", ["seq", "s", 0]))
    assert coordinator.expect(GetHome, timeout=5) == GetHome(shard, region)
    region.tell(HomeIs(shard, region))
    region.tell(BeginHandOff(shard, region))  # the move begins here: this region fences itself ...
    region.tell(Deliver("x", ["seq", "s", 1]))  # ... and a region that has not fenced it yet still sends
    state = region.ask(Deliver("x", "state"), timeout=5).result()
    assert state[1] == {"s": [0, 1]}  # handed to the entity here, not buffered to overtake later messages
    region.tell(HandOff(shard, (region,)))  # every fence is in: the entity stops, the shard is free
    assert coordinator.expect(ShardStopped, timeout=5) == ShardStopped(shard, region)
    region.tell(Deliver("x", ["seq", "s", 2]))  # after the fences: it waits for the shard's next home
    assert coordinator.expect(GetHome, timeout=5) == GetHome(shard, region)


class _Teller(rayka.Actor):
    """Tells ``["seq", name, n]`` to entities from an actor (the region's own thread): the inline path."""

    async def receive(self, message):
        name, refs, count = message
        for n in range(count):
            for ref in refs:
                ref.tell(["seq", name, n])
            if n % 7 == 0:
                await asyncio.sleep(0.002)  # let the thread sender's messages in between
            if n % 50 == 25 and name == "actor-0":
                for ref in refs:
                    ref.stop()  # passivate: what follows waits in the region and starts the next incarnation
        return count


def test_tells_from_actors_and_threads_keep_each_senders_order_across_passivations(
        system, tmp_path) -> None:
    journal = SqliteJournal(tmp_path / "events.db")  # one open journal for all: a file has one writer
    tallies = system.entities(Tally, journal, name="tally")
    ids = [f"t-{i}" for i in range(6)]
    tellers = [system.spawn(_Teller) for _ in range(2)]
    replies = [teller.ask([f"actor-{k}", [tallies.ref(i) for i in ids], 150], timeout=60)
               for k, teller in enumerate(tellers)]

    def thread_sender() -> None:
        for n in range(150):
            for entity_id in ids:
                tallies.ref(entity_id).tell(["seq", "thread", n])
            if n % 10 == 0:
                time.sleep(0.002)

    thread = threading.Thread(target=thread_sender)
    thread.start()
    thread.join(timeout=60)
    assert [reply.result() for reply in replies] == [150, 150]
    expected = {name: list(range(150)) for name in ("actor-0", "actor-1", "thread")}
    deadline = time.monotonic() + 30
    while True:  # persisted, in order per sender, across the incarnations passivation made
        states = [tallies.ref(i).ask("state", timeout=10).result()[1] for i in ids]
        if all(state == expected for state in states) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert states == [expected] * len(ids)
    assert tallies.statistics().passivations >= 6
    system.shutdown()
    journal.close()


def test_a_tell_from_an_actor_is_routed_on_its_thread_without_a_turn_of_the_region(system) -> None:
    carts = system.entities(Cart, name="cart")
    region = system.lookup("rayka.entities.cart.local")
    before = region.statistics().processed
    teller = system.spawn(_Teller)
    assert teller.ask(["actor", [carts.ref(f"c-{i}") for i in range(10)], 300], timeout=30).result() == 300
    for i in range(10):
        assert carts.ref(f"c-{i}").ask("state", timeout=5).result()[1] == {"actor": list(range(300))}
    assert region.statistics().processed - before < 300  # 3,000 tells: none took the mailbox (ticks and asks did)


class _Fragile(rayka.Actor):
    """An entity whose constructor fails for ids starting with "bad" while the class attribute ``broken`` is set."""

    broken = True

    def __init__(self, key) -> None:
        if key.startswith("bad") and _Fragile.broken:
            raise OSError(f"cannot open the store of {key}")
        self.key = key

    def receive(self, message):
        return [self.key, message]


def test_an_entity_whose_constructor_fails_fails_its_messages_and_the_region_goes_on(system) -> None:
    fragile = system.entities(_Fragile, name="fragile")
    dead: list = []
    system.dead_letters.subscribe(dead.append)
    with pytest.raises(rayka.RaykaError, match=r"entity 'bad-1' of entities 'fragile' could not start: OSError: "
                                                r"cannot open the store of bad-1") as raised:
        fragile.ref("bad-1").ask("hello", timeout=5).result()
    assert isinstance(raised.value.__cause__, OSError)
    fragile.ref("bad-1").tell("lost")  # a tell: a dead letter that says why
    assert fragile.ref("good").ask("hello", timeout=5).result() == ["good", "hello"]  # the region goes on
    assert [(letter.message, letter.reason) for letter in dead if letter.message == "lost"] == [
        ("lost", "failed to start")]
    _Fragile.broken = False  # what it needed is back: its next message starts it
    try:
        assert fragile.ref("bad-1").ask("again", timeout=5).result() == ["bad-1", "again"]
    finally:
        _Fragile.broken = True


def test_a_region_that_registered_itself_before_its_spawn_returned_stays_registered_with_itself(system) -> None:
    from rayka.sharding._refs import region_for, register_region, unregister_region

    ref, region = system.spawn(Cart, "x"), object()
    try:
        register_region("raced", system, ref, 4, region)  # its on_start ran first (a busy machine) ...
        register_region("raced", system, ref, 4)  # ... then the spawner registered the bare ref
        assert region_for("raced")[3] is region  # still routed inline through it, not only via its mailbox
    finally:
        unregister_region("raced", ref)
