"""Every node a full member: what the driver can do, an actor on any node can do, and the driver sees it all."""

from __future__ import annotations

import sys
import textwrap
import threading
import time

import pytest

import rayka
from rayka.testing import TestProbe
from tests.cluster.cluster_actors import Announcer, Counter, Parent, Placer, Stuck

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_an_actor_places_children_by_resource_by_ref_by_index_and_spread(cluster_system):
    placer = cluster_system.spawn(Placer, node=0)
    pids = {node: info["pid"] for node, info in cluster_system.cluster.node_info().items()}
    child, pid = placer.ask(("child", {"accel": 1}), timeout=20).result()
    assert pid == pids["n2"] and child.path.startswith(placer.path + "/")
    neighbour = cluster_system.spawn(Counter, node=1)
    _, pid = placer.ask(("child", neighbour), timeout=20).result()
    assert pid == pids["n1"]
    _, pid = placer.ask(("child", 2), timeout=20).result()
    assert pid == pids["n2"]
    _, pid = placer.ask(("child", "spread"), timeout=20).result()
    assert pid in pids.values()
    with pytest.raises(ValueError, match="no live node runtime offers"):
        placer.ask(("child", {"num_gpus": 1}), timeout=20).result()


def test_a_name_given_inside_a_node_is_visible_from_the_driver_and_other_nodes(cluster_system):
    placer = cluster_system.spawn(Placer, node=0)
    other = cluster_system.spawn(Placer, node=1)
    ref, pid = placer.ask(("top", "named-inside", 2), timeout=20).result()
    assert cluster_system.lookup("named-inside") == ref  # the driver sees it at once
    seen = None
    for _ in range(200):  # another node sees it once the registry pushed it to its replica
        seen = other.ask(("lookup", "named-inside"), timeout=20).result()
        if seen is not None:
            break
        threading.Event().wait(0.01)
    assert seen == ref
    with pytest.raises(rayka.InvalidActorName):
        cluster_system.spawn(Counter, name="named-inside")
    ref.stop()
    assert cluster_system.wait_terminated(ref, timeout=10)
    with pytest.raises(rayka.ActorNotFound):
        cluster_system.lookup("named-inside")


def test_the_driver_reads_a_remote_refs_statistics_and_the_whole_tree(cluster_system):
    ref = cluster_system.spawn(Counter, name="stats-target", node=1)
    for i in range(7):
        ref.tell(i)
    assert ref.ask("count", timeout=10).result() == 7
    assert ref.statistics().processed == 8
    parent = cluster_system.spawn(Parent, None, name="tree-parent", node=1)
    kid = parent.ask("child", timeout=10).result()
    with pytest.raises(ValueError):
        kid.ask(("fail", "once"), timeout=10).result()
    assert kid.ask("count", timeout=10).result() == 0
    html = cluster_system._repr_html_()
    assert "node n1:" in html and "stats-target [running, 0 queued]" in html
    assert "tree-parent [running, 0 queued]" in html and "kid [running, 0 queued, 1 restarts]" in html
    stats = cluster_system.statistics()
    assert f"actors={stats['actors']}" in repr(cluster_system) and stats["actors"] >= 1


def test_timed_out_asks_to_remote_actors_leave_no_pending_entries(cluster_system):
    stuck = cluster_system.spawn(Stuck, node=1)
    transport = cluster_system.cluster.transport
    replies = [stuck.ask(i, timeout=0.05) for i in range(2_000)]
    for reply in replies:
        with pytest.raises(rayka.AskTimeout):
            reply.result()
    deadline = time.monotonic() + 10
    while transport.pending_asks and time.monotonic() < deadline:
        threading.Event().wait(0.1)  # the transport sweeps expired asks every half second
    assert transport.pending_asks == 0


def test_a_class_the_nodes_cannot_import_raises_a_clear_error(cluster_system, tmp_path):
    (tmp_path / "only_on_the_driver.py").write_text(textwrap.dedent("""
        import rayka

        class Hidden(rayka.Actor):
            def receive(self, message):
                return message
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        from only_on_the_driver import Hidden  # type: ignore[import-not-found]

        with pytest.raises(rayka.ClassNotImportable) as caught:
            cluster_system.spawn(Hidden, node=0)
    finally:
        sys.path.remove(str(tmp_path))
    text = str(caught.value)
    assert "only_on_the_driver.Hidden" in text and "pickle_by_value=['only_on_the_driver']" in text
    assert "runtime_env" in text and caught.value.__cause__ is not None


def test_refs_used_after_shutdown_raise_system_closed(ray_cluster):
    system = rayka.ActorSystem("closing", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=1))
    ref = system.spawn(Counter)
    assert ref.ask("count", timeout=10).result() == 0
    system.shutdown()
    with pytest.raises(rayka.SystemClosed):
        ref.tell("late")
    with pytest.raises(rayka.SystemClosed):
        ref.ask("count", timeout=10)


def test_a_probe_watches_a_remote_actor_and_receives_from_it(cluster_system):
    probe = TestProbe(cluster_system)
    ref = cluster_system.spawn(Counter, node=2)
    probe.watch(ref)
    ref.tell(("x",), sender=probe.ref)
    ref.stop()
    assert isinstance(probe.expect(rayka.Terminated, timeout=10), rayka.Terminated)


def test_node_loss_restarts_unnamed_top_level_actors_but_never_a_stopped_one(ray_cluster):
    with rayka.ActorSystem("names", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=2)) as system:
        probe = TestProbe(system)
        system.spawn(Announcer, probe.ref, node=1)  # unnamed
        first = probe.expect(timeout=10)
        stopped = system.spawn(Announcer, probe.ref, name="stopped-before", node=1)
        probe.expect(timeout=10)
        stopped.stop()
        assert system.wait_terminated(stopped, timeout=10)
        system.cluster.kill_node("n1")
        assert system.cluster.wait_recovered("n1", timeout=30)
        again = probe.expect(timeout=10)
        assert again[0] == "started" and again[1] != first[1]  # the unnamed one, on another process
        probe.expect_no_message(0.5)  # and nothing else: the stopped one stays stopped
        with pytest.raises(rayka.ActorNotFound):
            system.lookup("stopped-before")
