"""Sharded entities, embedded: one process runs every shard; the same API as on a cluster."""

from __future__ import annotations

import threading
import time

import pytest

import rayka
from rayka.sharding import EntityStatistics
from tests.sharding.entity_actors import Cart, Ledger

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
