"""Membership under real faults: a reset connection, a hung node runtime (SIGSTOP) shorter and longer than down_after.

Suspicion is not death: a fault shorter than ``down_after`` loses, duplicates and restarts nothing. A node that
stays silent longer is downed once, by the driver, fenced (killed) before its actors start elsewhere.
"""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

import rayka
from rayka.testing import TestProbe
from tests.cluster.cluster_actors import Counter, OrderChecker, Sender

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def _count_reaches(system: rayka.ActorSystem, checker: rayka.ActorRef, n: int, patience: float = 60.0) -> None:
    """Wait until ``checker`` (an OrderChecker) has counted ``n`` messages (streams resend at their pace)."""
    probe = TestProbe(system)
    checker.send(("notify", n, probe.ref)).result(timeout=patience)  # send, not tell: a full backlog drops tells
    probe.expect("reached", timeout=patience)


def _reset_inbound_connections(pid: int) -> int:
    """Reset (ss -K) every established TCP connection to the gRPC ports ``pid`` listens on; returns how many."""
    process = psutil.Process(pid)
    ports = {c.laddr.port for c in process.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN}
    killed = 0
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_ESTABLISHED and conn.raddr and conn.laddr.port in ports:
            result = subprocess.run(["ss", "-K", "src", f"127.0.0.1:{conn.laddr.port}",
                                     "dst", f"127.0.0.1:{conn.raddr.port}"], capture_output=True, text=True)
            killed += result.returncode == 0
    return killed


def _ss_kill_works() -> bool:
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        server.accept()[0].close()
        subprocess.run(["ss", "-K", "dst", f"127.0.0.1:{port}"], capture_output=True)
        try:
            client.send(b"x")
            client.send(b"x")
            return False
        except OSError:
            return True
        finally:
            client.close()


def test_reset_connections_to_a_node_lose_duplicate_reorder_and_restart_nothing(ray_cluster):
    if os.geteuid() != 0 or not _ss_kill_works():
        pytest.skip("needs root and a kernel whose `ss -K` can reset sockets")
    cluster = rayka.RayCluster(address=ray_cluster.address, nodes=2, down_after=10.0)
    with rayka.ActorSystem("reset", cluster=cluster) as system:
        receiver = system.spawn(OrderChecker, name="receiver", node=1)
        sender = system.spawn(Sender, node=0)
        pid = system.cluster.node_info()["n1"]["pid"]
        sent = sender.ask(("go", receiver, 30_000), timeout=120)
        resets = sum(_reset_inbound_connections(pid) for _ in range(3))
        for i in range(2_000):  # the driver's own stream to the node, during the resets
            receiver.tell(("driver", i))
        assert sent.result() == 30_000
        _count_reaches(system, receiver, 32_000)
        report = receiver.ask("report", timeout=30).result()
        assert report == {"count": 32_000, "disorder": 0, "next": {"sender": 30_000, "driver": 2_000}}
        assert system.lookup("receiver") == receiver  # not restarted
        assert system.cluster.node_info()["n1"]["pid"] == pid
        assert system.statistics()["restarts"] == 0 and not system.cluster.down
    assert resets >= 1


def test_a_node_hung_shorter_than_down_after_is_only_suspected_and_loses_nothing(ray_cluster):
    cluster = rayka.RayCluster(address=ray_cluster.address, nodes=2, down_after=8.0)
    with rayka.ActorSystem("pause", cluster=cluster) as system:
        receiver = system.spawn(OrderChecker, name="paused", node=1)
        helper = system.spawn(Counter, node=0)
        sender = system.spawn(Sender, node=0)
        pid = system.cluster.node_info()["n1"]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            sent = sender.ask(("go", receiver, 10_000), timeout=60)
            for i in range(3_000):
                receiver.tell(("driver", i))
            for _ in range(5):  # healthy actors keep answering while a peer hangs
                assert helper.ask("count", timeout=10).result() == 0
        finally:
            os.kill(pid, signal.SIGCONT)
        assert sent.result() == 10_000
        _count_reaches(system, receiver, 13_000)
        report = receiver.ask("report", timeout=30).result()
        assert report == {"count": 13_000, "disorder": 0, "next": {"sender": 10_000, "driver": 3_000}}
        assert system.lookup("paused") == receiver
        assert system.statistics()["restarts"] == 0 and not system.cluster.down


def test_a_node_hung_longer_than_down_after_is_downed_once_fenced_and_its_actors_start_once_elsewhere(ray_cluster):
    cluster = rayka.RayCluster(address=ray_cluster.address, nodes=3, down_after=2.0)
    with rayka.ActorSystem("hung", cluster=cluster) as system:
        victim = system.spawn(Counter, name="victim", node=1)
        helper = system.spawn(Counter, node=0)
        victim.tell("before")
        assert victim.ask("count", timeout=10).result() == 1
        pid = system.cluster.node_info()["n1"]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            assert system.cluster.wait_recovered("n1", timeout=60)
            assert helper.ask("count", timeout=10).result() == 0
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if psutil.pid_exists(pid):  # fenced: Ray's kill takes effect as soon as the process runs again
            psutil.Process(pid).wait(timeout=30)
        again = system.lookup("victim")
        assert again != victim and again._cell.node in ("n0", "n2")
        assert again.ask("count", timeout=10).result() == 0  # one new incarnation, state afresh
        assert system.statistics()["restarts"] == 1  # restarted exactly once
        with pytest.raises(rayka.ActorStopped):
            victim.ask("count", timeout=10).result()
        assert system.cluster.wait_rejoined("n1", timeout=60)


def test_tells_to_a_hung_node_never_block_and_past_the_backlog_go_to_dead_letters(ray_cluster):
    cluster = rayka.RayCluster(address=ray_cluster.address, nodes=2, down_after=30.0, max_backlog=3_000)
    with rayka.ActorSystem("backlog", cluster=cluster) as system:
        receiver = system.spawn(OrderChecker, name="slow-side", node=1)
        assert receiver.ask("count", timeout=10).result() == 0
        dropped = []
        unsubscribe = system.dead_letters.subscribe(
            lambda letter: dropped.append(letter.message) if letter.reason == "peer-backlog" else None)
        pid = system.cluster.node_info()["n1"]["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(20_000):  # far more than the stream and the backlog hold: returns, never waits
                receiver.tell(("driver", i))
        finally:
            os.kill(pid, signal.SIGCONT)
            unsubscribe()
        delivered = 20_000 - len(dropped)
        assert 0 < delivered < 20_000
        _count_reaches(system, receiver, delivered)
        report = receiver.ask("report", timeout=30).result()
        assert report == {"count": delivered, "disorder": 0, "next": {"driver": delivered}}  # a prefix, in order
        assert [message[1] for message in dropped] == list(range(delivered, 20_000))  # the rest: dead letters
        assert system.statistics()["restarts"] == 0


@pytest.mark.timeout(360)  # two runs of the drill at most
def test_a_killed_raylet_brings_its_actors_back_on_a_live_node_and_survivors_lose_nothing(capsys):
    import json
    import sys
    import warnings

    script = os.path.join(os.path.dirname(__file__), "raylet_drill.py")
    # The drill's driver process once died of SIGSEGV in CI (not reproduced in 20 runs here, under load
    # either); a Ray driver whose cluster loses a raylet is a known source of native crashes. One rerun
    # is allowed when the process dies of a signal, and the crash's stacks (faulthandler) are reported.
    for attempt in (1, 2):
        done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=170)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode >= 0 or attempt == 2:
            break
        warnings.warn(f"raylet drill died of signal {-done.returncode}; rerunning once:\n{done.stderr[-4000:]}")
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["recovered"] is True
    assert result["victim_node"] in ("n0", "n2") and result["victim_count"] == 0  # back, as a new incarnation
    assert result["sent"] == 20_000
    assert result["report"] == {"count": 20_000, "disorder": 0, "next": {"sender": 20_000}}  # survivors: 0 lost
    assert result["restarts"] == 1
    with capsys.disabled():
        print(f"\n[raylet lost] raylet killed -> restarted actor answering: {result['recovery_ms']:.0f} ms")
