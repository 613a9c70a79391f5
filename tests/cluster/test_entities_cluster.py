"""Sharded entities on a cluster: one incarnation per id, shards that follow nodes joining and leaving, and
entities that come back (persistent ones with every acknowledged event) after their node is killed."""

from __future__ import annotations

import os
import threading
import time

import cloudpickle
import pytest

import rayka
from rayka.sharding._refs import shard_of
from tests.cluster.polling import wait_until
from tests.sharding import entity_actors
from tests.sharding.entity_actors import Asker, Cart, Ledger, Starter, Tally

cloudpickle.register_pickle_by_value(entity_actors)
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]



@pytest.fixture
def system(ray_cluster):
    system = rayka.ActorSystem("entities", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=2))
    try:
        yield system
    finally:
        system.shutdown()


class Load:
    """Sender threads telling numbered messages to entities until stopped; each sender's order is checked after."""

    def __init__(self, carts, ids: list[str], senders: int = 3) -> None:
        self.carts, self.ids = carts, ids
        self.sent = [0] * senders
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(senders)]
        for thread in self.threads:
            thread.start()

    def run(self, k: int) -> None:
        n = 0
        while not self.stop.is_set():
            for entity_id in self.ids:
                self.carts.ref(entity_id).tell(["seq", f"s{k}", n])
            n += 1
            self.sent[k] = n
            time.sleep(0.05)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def check(self) -> None:
        """Every entity got every sender's messages, each exactly once and in order."""
        for entity_id in self.ids:
            def complete():
                _, by_sender, _, _ = self.carts.ref(entity_id).ask("state", timeout=30).result()
                return by_sender if all(len(by_sender.get(f"s{k}", [])) >= n for k, n in enumerate(self.sent)) else None

            try:
                by_sender = wait_until(complete)
            except AssertionError:
                _, by_sender, _, _ = self.carts.ref(entity_id).ask("state", timeout=30).result()
                raise AssertionError(f"{entity_id}: sent {self.sent}, got " + ", ".join(
                    f"{k}: {len(v)} ({sorted(set(range(self.sent[int(k[1:])])) - set(v))[:10]} missing)"
                    for k, v in by_sender.items())) from None
            for k, n in enumerate(self.sent):
                assert by_sender[f"s{k}"] == list(range(n)), (entity_id, k)  # 0 lost, 0 duplicated, in order


def test_entities_have_one_incarnation_whoever_addresses_them_from_any_node(system) -> None:
    carts = system.entities(Cart, name="cart", shards=16)
    ids = [f"user-{i}" for i in range(12)]
    askers = [system.spawn(Asker, node=node) for node in ("n0", "n1", "n0", "n1")]
    replies = [asker.ask([[carts.ref(i) for i in ids], "whoami"], timeout=60) for asker in askers]
    driver = [carts.ref(i).ask("whoami", timeout=30) for i in ids]
    seen: dict[str, set] = {}
    for answers, _ in (reply.result() for reply in replies):
        for owner, _, pid, token in answers:
            seen.setdefault(owner, set()).add((pid, token))
    for owner, _, pid, token in (reply.result() for reply in driver):
        seen.setdefault(owner, set()).add((pid, token))
    assert all(len(incarnations) == 1 for incarnations in seen.values()), seen
    pids = {pid for incarnations in seen.values() for pid, _ in incarnations}
    assert os.getpid() not in pids and len(pids) == 2  # they run on the node runtimes, both of them
    stats = carts.statistics()
    assert stats.active == 12 and sum(stats.shards_per_node.values()) >= 2


def test_shards_rebalance_onto_an_added_node_and_off_a_drained_one_losing_nothing(system, postgres) -> None:
    carts = system.entities(Tally, postgres.dsn, name="tally", shards=12)  # state moves with its journal
    per_shard: dict[int, list[str]] = {}
    for candidate in (f"item-{i}" for i in range(1000)):
        per_shard.setdefault(shard_of(candidate, 12), []).append(candidate)
    ids = [entity_id for shard in range(12) for entity_id in per_shard[shard][:2]]  # two in each of the 12 shards
    load = Load(carts, ids, senders=2)
    try:
        wait_until(lambda: sum(carts.statistics().shards_per_node.values()) == 12)
        added = system.cluster.add_node()
        wait_until(lambda: carts.statistics().shards_per_node.get(added, 0) >= 3)  # moved onto the new node
        system.cluster.remove_node("n0")  # drained: its shards move first
        assert carts.statistics().shards_per_node.get("n0", 0) == 0
        wait_until(lambda: sum(carts.statistics().shards_per_node.values()) == 12)  # a move n1 -> n2 may be under way
    finally:
        load.finish()
    load.check()
    assert carts.statistics().handoffs >= 3


def test_after_a_node_is_killed_its_entities_come_back_and_persistent_ones_keep_every_acknowledged_event(
        system, postgres) -> None:
    ledgers = system.entities(Ledger, postgres.dsn, name="ledger", shards=8)
    carts = system.entities(Cart, name="cart", shards=8)
    accounts = [f"acct-{i}" for i in range(8)]
    acknowledged: dict[str, list] = {account: [] for account in accounts}
    for n in range(5):
        for account in accounts:
            ledgers.ref(account).ask(n, timeout=30).result()
            acknowledged[account].append(n)
    homes = {account: ledgers.ref(account).ask("events", timeout=30).result()[1] for account in accounts}
    carts.ref("lost").ask("before", timeout=30).result()
    victim = next(n for n in system.cluster.nodes() if n.pid == homes[accounts[0]])
    system.cluster.kill_node(victim.node)
    assert system.cluster.wait_recovered(victim.node, timeout=60)
    for account in accounts:  # every acknowledged event is there, wherever the entity runs now
        events, pid = ledgers.ref(account).ask("events", timeout=60).result()
        assert events[:len(acknowledged[account])] == acknowledged[account]
        if homes[account] == victim.pid:
            assert pid != victim.pid
    items = carts.ref("lost").ask("state", timeout=60).result()[0]
    assert items in (["before"], [])  # a non-persistent entity on the lost node restarts empty


def test_remembered_entities_start_again_at_once_after_their_node_is_lost(system) -> None:
    carts = system.entities(Cart, name="remembered", shards=8, remember=True)
    ids = [f"r-{i}" for i in range(8)]
    pids = {entity_id: carts.ref(entity_id).ask("whoami", timeout=30).result()[2] for entity_id in ids}
    assert len(set(pids.values())) == 2
    victim = next(n for n in system.cluster.nodes() if n.pid == pids["r-0"])
    system.cluster.kill_node(victim.node)
    assert system.cluster.wait_recovered(victim.node, timeout=60)
    wait_until(lambda: carts.statistics().active == 8)  # all eight running again, before any message
    assert carts.statistics().activations >= 8


def test_shards_move_onto_a_raylet_that_joins_and_come_back_with_every_event_when_it_is_killed(
        ray_cluster, postgres) -> None:
    system = rayka.ActorSystem("auto-entities", cluster=rayka.RayCluster(address=ray_cluster.address, nodes="auto"))
    raylet = None
    try:
        ledgers = system.entities(Ledger, postgres.dsn, name="raylet-ledger", shards=12)
        accounts = [f"raylet-{i}" for i in range(12)]
        acknowledged: dict[str, list] = {account: [] for account in accounts}

        def write(n: int) -> dict[str, int]:
            homes = {}
            for account in accounts:
                ledgers.ref(account).ask(n, timeout=60).result()  # acknowledged: on the journal
                acknowledged[account].append(n)
                homes[account] = ledgers.ref(account).ask("events", timeout=60).result()[1]
            return homes

        write(0)
        raylet = ray_cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        joined = wait_until(lambda: [n for n in system.cluster.nodes() if n.ray_node == raylet.node_id])[0]
        wait_until(lambda: ledgers.statistics().shards_per_node.get(joined.node, 0) >= 3)
        homes = write(1)
        assert joined.pid in homes.values()  # some accounts now run on the new raylet's node runtime
        ray_cluster.remove_node(raylet)  # the raylet and its processes are killed
        raylet = None
        assert system.cluster.wait_recovered(joined.node, timeout=60)
        for account in accounts:
            events, pid = ledgers.ref(account).ask("events", timeout=60).result()
            assert events == acknowledged[account] and pid != joined.pid
    finally:
        system.shutdown()
        if raylet is not None:
            ray_cluster.remove_node(raylet)


def test_entities_started_from_an_actor_on_a_node_run_on_every_node_and_follow_a_joining_one(system) -> None:
    starter = system.spawn(Starter, node="n1")
    answer, starter_pid = starter.ask(["made-on-node", "alice"], timeout=60).result()
    assert answer[:2] == ["alice", "from-node"]  # started there, with the arguments given there
    carts = system.entities(Cart, name="made-on-node")  # the driver joins them: one coordinator
    ids = [f"user-{i}" for i in range(24)]
    wait_until(lambda: len(carts.statistics().shards_per_node) == 2)  # the other node got its region too
    pids = {carts.ref(i).ask("whoami", timeout=30).result()[2] for i in ids}
    assert len(pids) == 2 and starter_pid in pids  # shards run on both node runtimes
    added = system.cluster.add_node()  # a node joining later gets a region (the driver's hook)
    wait_until(lambda: carts.statistics().shards_per_node.get(added, 0) >= 1)
    again = system.spawn(Starter, node="n0").ask(["made-on-node", "alice"], timeout=60).result()[0]
    assert again[3] == answer[3]  # the same incarnation of "alice", reached from another node
