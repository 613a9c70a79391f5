"""Cluster mode on a local Ray cluster: order, ask, watch, driver use, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

import rayka

from tests.cluster.cluster_actors import Counter, Finder, Forwarder, Sender, Watcher

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_messages_across_nodes_keep_their_order_under_load(cluster_system):
    receiver = cluster_system.spawn(Counter, node=1)
    sender = cluster_system.spawn(Sender, node=0)
    assert sender.ask(("go", receiver, 20_000), timeout=30).result() == 20_000
    deadline_count = receiver.ask("count", timeout=30).result()
    while deadline_count < 20_000:
        deadline_count = receiver.ask("count", timeout=30).result()
    assert receiver.ask("in_order", timeout=10).result() is True


def test_driver_tells_from_several_threads_keep_per_thread_order(cluster_system):
    receiver = cluster_system.spawn(Counter, node=2)

    def send(base: int) -> None:
        for i in range(2_000):
            receiver.tell((base, i))

    threads = [threading.Thread(target=send, args=(b,)) for b in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert receiver.ask("count", timeout=30).result() == 6_000


def test_ask_across_nodes_returns_the_reply_and_the_handlers_error(cluster_system):
    target = cluster_system.spawn(Counter, node=1)
    forwarder = cluster_system.spawn(Forwarder, node=0)
    target.tell("x")
    assert forwarder.ask((target, "count"), timeout=10).result() == 1
    with pytest.raises(ValueError, match="bad input"):
        forwarder.ask((target, ("fail", "bad input")), timeout=10).result()


def test_actors_run_in_node_processes_not_in_the_driver(cluster_system):
    import os

    pids = {cluster_system.spawn(Counter, node=i).ask("pid", timeout=10).result() for i in range(3)}
    assert len(pids) == 3
    assert os.getpid() not in pids


def test_placement_by_ray_resource_lands_on_the_node_that_has_it(cluster_system):
    for _ in range(3):
        ref = cluster_system.spawn(Counter, node={"accel": 1})
        assert ref._cell.node == "n2"
    with pytest.raises(ValueError, match="no live node runtime offers"):
        cluster_system.spawn(Counter, node={"num_gpus": 1})


def test_watch_across_nodes_delivers_terminated_once(cluster_system):
    target = cluster_system.spawn(Counter, node=1)
    watcher = cluster_system.spawn(Watcher, node=0)
    assert watcher.ask(("watch", target), timeout=10).result() is True
    target.stop()
    for _ in range(200):
        seen = watcher.ask("terminated", timeout=10).result()
        if seen:
            break
    assert seen == [target.path]


def test_watch_of_a_dead_remote_ref_delivers_terminated(cluster_system):
    target = cluster_system.spawn(Counter, node=1)
    target.stop()
    watcher = cluster_system.spawn(Watcher, node=2)
    # the stop travels first on the same stream order as nothing else: wait until the target is gone
    with pytest.raises(rayka.ActorStopped):
        for _ in range(200):
            target.ask("count", timeout=10).result()
    watcher.ask(("watch", target), timeout=10).result()
    for _ in range(200):
        seen = watcher.ask("terminated", timeout=10).result()
        if seen:
            break
    assert seen == [target.path]


def test_a_message_that_cannot_be_serialized_fails_at_tell(cluster_system):
    target = cluster_system.spawn(Counter, node=0)
    with pytest.raises(rayka.SerializationError, match="lock"):
        target.tell(threading.Lock())
    target.tell("still fine")
    assert target.ask("count", timeout=10).result() == 1


def test_a_reply_that_cannot_be_serialized_fails_the_ask_clearly(cluster_system):
    target = cluster_system.spawn(Counter, node=1)
    with pytest.raises(rayka.RaykaError, match="lock"):
        target.ask(("lock",), timeout=10).result()


def test_a_malformed_batch_is_rejected_and_counted_and_the_node_keeps_running(cluster_system):
    import ray

    runtime = cluster_system.cluster
    handle = runtime.handles["n1"]
    from rayka.cluster._receiving import NACK

    assert ray.get(handle.deliver.remote(b"\x00not a batch")) == NACK  # rejected: the sender is asked to resend
    assert runtime.node_info()["n1"]["malformed_batches"] >= 1
    target = cluster_system.spawn(Counter, node=1)
    assert target.ask("count", timeout=10).result() == 0


def test_names_are_registered_cluster_wide_and_looked_up_from_the_driver(cluster_system):
    ref = cluster_system.spawn(Counter, name="registered", node=2)
    assert cluster_system.lookup("registered") == ref
    with pytest.raises(rayka.InvalidActorName):
        cluster_system.spawn(Counter, name="registered")


def test_a_name_registered_from_the_driver_is_found_from_inside_another_node(cluster_system):
    target = cluster_system.spawn(Counter, name="findme", node=2)
    target.tell("x")
    target.ask("count", timeout=10).result()
    finder = cluster_system.spawn(Finder, node=0)
    assert finder.ask("findme", timeout=20).result() == (target.path, 1)


def test_refs_travel_inside_messages_between_nodes(cluster_system):
    target = cluster_system.spawn(Counter, node=2)
    forwarder = cluster_system.spawn(Forwarder, node=0)
    # the ref to `target` is inside the message the driver sends to node 0
    forwarder.ask((target, "hello"), timeout=10).result()
    assert target.ask("count", timeout=10).result() == 1


def test_spawning_a_non_actor_in_cluster_mode_is_a_clear_type_error(cluster_system):
    with pytest.raises(TypeError, match="rayka.Actor"):
        cluster_system.spawn(dict)


def test_a_class_defined_in_main_spawns_on_remote_nodes(ray_cluster, tmp_path):
    script = tmp_path / "main_class.py"
    script.write_text(textwrap.dedent(f"""
        import os
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        import rayka

        class Shout(rayka.Actor):
            def receive(self, message):
                return str(message).upper() + "@" + str(os.getpid())

        with rayka.ActorSystem("main", cluster=rayka.RayCluster(address={ray_cluster.address!r}, nodes=1)) as s:
            print("REPLY", s.spawn(Shout).ask("hi", timeout=30).result(), os.getpid())
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=100)
    line = [l for l in result.stdout.splitlines() if l.startswith("REPLY")]
    assert line, result.stdout + result.stderr
    _, reply, driver_pid = line[0].split()
    text, node_pid = reply.split("@")
    assert text == "HI" and node_pid != driver_pid
