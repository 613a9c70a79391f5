"""Ordered streams: numbering, batching, flow control, reordering, incarnations."""

from __future__ import annotations

import itertools
import random
import zlib

import msgpack
import pytest

from rayka._errors import MailboxFull, TransportError
from rayka.cluster._stream import (
    InboundStream,
    InboundStreams,
    OutboundStream,
    StreamFull,
    StreamId,
)
from rayka.cluster._wire import PAYLOAD, WIRE_VERSION, Decoder, Encoder, MalformedBatch, decode_batch, encode_batch

pytestmark = pytest.mark.timeout(30)

SID = StreamId("node-a", 1)


def batches_of(n: int, size: int) -> list[tuple[int, list[int]]]:
    """Cut seq 0..n-1 into (first_seq, records) batches, the records being their own seqs."""
    return [(first, list(range(first, min(first + size, n)))) for first in range(0, n, size)]


# Outbound


def test_pushed_messages_are_numbered_from_zero_in_order() -> None:
    out = OutboundStream(SID)
    assert [out.push(b"m") for _ in range(5)] == [0, 1, 2, 3, 4]
    assert out.next_seq == 5


def test_a_batch_takes_every_pending_message_up_to_the_batch_size() -> None:
    out = OutboundStream(SID, max_batch_messages=3, max_in_flight=10)
    for i in range(7):
        out.push(bytes([i]))
    sizes = []
    while (batch := out.next_batch()) is not None:
        sizes.append((batch.first_seq, len(batch.items), batch.end_seq))
    assert sizes == [(0, 3, 3), (3, 3, 6), (6, 1, 7)]


def test_a_batch_respects_the_byte_limit_but_a_large_message_travels_alone() -> None:
    out = OutboundStream(SID, max_batch_bytes=10, max_in_flight=10, max_pending_bytes=1000)
    for item in (b"aaaa", b"bbbb", b"cccc", b"x" * 50, b"d"):
        out.push(item)
    batches = [out.next_batch() for _ in range(4)]
    assert [b.items for b in batches] == [[b"aaaa", b"bbbb"], [b"cccc"], [b"x" * 50], [b"d"]]
    assert [b.nbytes for b in batches] == [8, 4, 50, 1]
    assert out.next_batch() is None


def test_no_more_batches_than_max_in_flight_are_unacknowledged() -> None:
    out = OutboundStream(SID, max_batch_messages=1, max_in_flight=2, max_pending_messages=10)
    for _ in range(5):
        out.push(b"m")
    first, second = out.next_batch(), out.next_batch()
    assert first is not None and second is not None
    assert out.next_batch() is None and not out.sendable
    assert out.ack(second.first_seq) is True
    third = out.next_batch()
    assert third is not None and third.first_seq == 2
    assert out.next_batch() is None
    assert out.statistics().in_flight_batches == 2


def test_an_ack_that_frees_a_slot_calls_on_sendable_and_unknown_acks_are_counted() -> None:
    calls = []
    out = OutboundStream(SID, max_batch_messages=1, max_in_flight=1, on_sendable=lambda: calls.append("s"))
    out.push(b"a")
    assert calls == ["s"]  # an idle stream turned sendable
    batch = out.next_batch()
    out.push(b"b")
    assert calls == ["s"]  # no free slot: not sendable
    assert out.ack(batch.first_seq)
    assert calls == ["s", "s"]
    assert out.ack(batch.first_seq) is False and out.ack(999) is False
    assert out.statistics().unknown_acks == 2


def test_push_raises_stream_full_at_the_pending_bound_and_writable_waiters_wake_after_a_batch_leaves() -> None:
    out = OutboundStream(SID, max_batch_messages=2, max_in_flight=1, max_pending_messages=3)
    for _ in range(3):
        out.push(b"m")
    assert not out.writable
    with pytest.raises(StreamFull) as info:
        out.push(b"m")
    assert isinstance(info.value, MailboxFull)
    woken = []
    out.call_when_writable(lambda: woken.append(True))
    assert woken == []
    out.next_batch()
    assert woken == [True] and out.writable
    woken.clear()
    out.call_when_writable(lambda: woken.append(True))
    assert woken == [True]  # already writable: called at once


def test_a_producer_faster_than_the_consumer_is_held_to_bounded_memory() -> None:
    out = OutboundStream(SID, max_batch_messages=10, max_in_flight=2)
    bound = 10 * 2 + 10 * 2  # pending + in flight
    sent: list[int] = []
    in_flight: list[int] = []
    waits = 0
    for n in range(1000):
        while not out.writable:  # the producer waits: the slow consumer acks one batch
            waits += 1
            while (batch := out.next_batch()) is not None:
                in_flight.append(batch.first_seq)
                sent.extend(batch.items)
            out.ack(in_flight.pop(0))
        out.push(n.to_bytes(2, "big"))
        stats = out.statistics()
        assert stats.pending_messages + stats.in_flight_messages <= bound
        assert stats.in_flight_batches <= 2
    while in_flight or out.sendable:
        while (batch := out.next_batch()) is not None:
            in_flight.append(batch.first_seq)
            sent.extend(batch.items)
        out.ack(in_flight.pop(0))
    assert waits > 0
    assert [int.from_bytes(b, "big") for b in sent] == list(range(1000))


def test_close_returns_every_unacknowledged_message_in_order_and_refuses_pushes() -> None:
    out = OutboundStream(SID, max_batch_messages=2, max_in_flight=2, max_pending_messages=4)
    out.push(0, size=1)
    out.push(1, size=1)
    first = out.next_batch()  # [0, 1] in flight
    out.push(2, size=1)
    second = out.next_batch()  # [2] in flight
    for item in (3, 4, 5, 6):
        out.push(item, size=1)  # pending, up to the bound
    assert first is not None and second is not None and not out.writable
    woken: list[bool] = []
    out.call_when_writable(lambda: woken.append(True))
    assert out.ack(second.first_seq)
    assert out.close() == [0, 1, 3, 4, 5, 6]
    assert woken == [True]  # waiters wake, and their push then fails
    assert out.close() == []
    with pytest.raises(TransportError, match="closed"):
        out.push(b"x")
    assert out.next_batch() is None and out.closed


def test_bad_limits_are_refused_when_built() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        OutboundStream(SID, max_in_flight=0)


# Inbound


def test_batches_arriving_in_order_are_delivered_at_once() -> None:
    inbound = InboundStream(SID)
    assert inbound.accept(0, ["a", "b"]) == ["a", "b"]
    assert inbound.accept(2, ["c"]) == ["c"]
    assert inbound.next_seq == 3


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))), ids=str)
def test_batches_arriving_in_any_order_are_delivered_in_sequence_order(order: tuple[int, ...]) -> None:
    batches = batches_of(14, 3)
    inbound = InboundStream(SID)
    delivered: list[int] = []
    for index in order:
        delivered.extend(inbound.accept(*batches[index]))
    assert delivered == list(range(14))
    assert inbound.statistics().buffered_batches == 0


def test_duplicate_batches_are_ignored_and_counted() -> None:
    inbound = InboundStream(SID)
    inbound.accept(0, [0, 1])
    assert inbound.accept(0, [0, 1]) == []  # already delivered
    assert inbound.accept(4, [4]) == []  # buffered
    assert inbound.accept(4, [4]) == []  # already buffered
    assert inbound.accept(2, [2, 3]) == [2, 3, 4]
    stats = inbound.statistics()
    assert stats.duplicate_batches == 2 and stats.duplicate_messages == 3
    assert stats.delivered_messages == 5


def test_a_batch_overlapping_what_was_delivered_delivers_only_its_new_tail() -> None:
    inbound = InboundStream(SID)
    inbound.accept(0, [0, 1, 2])
    assert inbound.accept(1, [1, 2, 3, 4]) == [3, 4]
    assert inbound.statistics().duplicate_messages == 2


def test_a_skipped_range_lets_later_batches_through() -> None:
    inbound = InboundStream(SID)
    assert inbound.accept(3, [3, 4]) == []
    assert inbound.skip(0, 3) == [3, 4]
    assert inbound.statistics().skipped_messages == 3


def test_a_gap_that_never_fills_breaks_the_stream_instead_of_growing_forever() -> None:
    inbound = InboundStream(SID, max_buffered_batches=3)
    for first in (1, 2, 3):
        inbound.accept(first, [first])
    with pytest.raises(TransportError, match="never came"):
        inbound.accept(4, [4])


def test_a_new_incarnation_of_a_node_starts_again_from_zero() -> None:
    streams = InboundStreams()
    assert streams.accept(StreamId("n", 1), 0, ["a"]) == ["a"]
    assert streams.accept(StreamId("n", 1), 5, ["f"]) == []  # waits on 1..4
    assert streams.accept(StreamId("n", 2), 0, ["new"]) == ["new"]
    assert streams.stream("n").stream_id == StreamId("n", 2)
    stats = streams.statistics()
    assert stats.resets == 1 and stats.skipped_messages == 1 and stats.delivered_messages == 2


def test_batches_from_an_older_incarnation_are_dropped_as_stale() -> None:
    streams = InboundStreams()
    streams.accept(StreamId("n", 2), 0, ["a"])
    assert streams.accept(StreamId("n", 1), 1, ["old"]) == []
    assert streams.statistics().stale_batches == 1


def test_streams_from_different_nodes_are_ordered_independently() -> None:
    streams = InboundStreams()
    assert streams.accept(StreamId("a", 1), 1, ["a1"]) == []
    assert streams.accept(StreamId("b", 1), 0, ["b0"]) == ["b0"]
    assert streams.accept(StreamId("a", 1), 0, ["a0"]) == ["a0", "a1"]


def test_malformed_batches_are_counted_reported_and_skipped_when_their_range_is_known() -> None:
    seen: list[MalformedBatch] = []
    streams = InboundStreams(decode_batch, on_malformed=seen.append)
    later = encode_batch(SID, 1, [("/user/a", None, 0, "later", None)])
    assert streams.receive(later) == []
    body = msgpack.packb([SID.node, SID.incarnation, 0, [["/user/a", None]]])
    bad = b"RK" + bytes((WIRE_VERSION,)) + zlib.crc32(body).to_bytes(4, "big") + body  # a valid frame, bad content
    released = streams.receive(bad)
    assert [r[PAYLOAD] for r in released] == ["later"]
    assert streams.receive(b"\x00garbage") == []
    stats = streams.statistics()
    assert stats.malformed_batches == 2 and stats.skipped_messages == 1
    assert len(seen) == 2 and all(isinstance(e, MalformedBatch) for e in seen)


def test_encoded_messages_shuffled_and_duplicated_by_the_network_arrive_once_in_order() -> None:
    rng = random.Random(7)
    encoder, decoder = Encoder(), Decoder()
    out = OutboundStream(SID, max_batch_messages=16, max_in_flight=4)
    inbound = InboundStreams(decoder.decode_batch)
    network: list[tuple[int, bytes]] = []
    received: list[object] = []
    pushed = 0
    while pushed < 2000 or network or out.sendable:
        while pushed < 2000 and out.writable:
            out.push(encoder.encode_record("/user/c", None, 0, ("add", pushed)))
            pushed += 1
        while (batch := out.next_batch()) is not None:
            network.append((batch.first_seq, encoder.join_batch(SID, batch.first_seq, batch.items)))
        if network:
            first_seq, data = network.pop(rng.randrange(len(network)))
            received.extend(r[PAYLOAD] for r in inbound.receive(data))
            if rng.random() < 0.2:
                received.extend(r[PAYLOAD] for r in inbound.receive(data))  # a duplicate delivery
            out.ack(first_seq)
    assert received == [("add", i) for i in range(2000)]
    assert inbound.statistics().buffered_batches == 0
