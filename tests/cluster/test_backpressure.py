"""Backpressure across nodes: a full backpressure mailbox on another node slows the sender, loses nothing."""

from __future__ import annotations

import pytest

import rayka

from rayka.mailbox import Bounded
from tests.cluster.cluster_actors import Pusher, SlowSink

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


def test_sends_into_a_full_backpressure_mailbox_on_another_node_wait_and_all_arrive_in_order(cluster_system):
    sink = cluster_system.spawn(SlowSink, mailbox=Bounded(2, overflow="backpressure"), node=1)
    pusher = cluster_system.spawn(Pusher, node=0)
    assert pusher.ask((sink, 60), timeout=60).result() == list(range(60))


def test_tells_into_a_full_fail_mailbox_on_another_node_go_to_dead_letters_and_the_node_keeps_running(cluster_system):
    sink = cluster_system.spawn(SlowSink, mailbox=Bounded(1, overflow="fail"), node=2)
    for i in range(50):
        sink.tell(i)
    got = None
    for _ in range(500):  # the ask itself meets the full mailbox until the sink has drained it
        try:
            got = sink.ask("got", timeout=60).result()
            break
        except rayka.MailboxFull:
            continue
    assert got is not None and 1 <= len(got) < 50 and got == sorted(got)
