"""Hostile or damaged input on the wire: refused, counted, never a crash, a hang or a wedged actor."""

from __future__ import annotations

import random
import zlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgpack import ExtType

import rayka
from rayka.testing import TestProbe
from rayka.cluster._inbound import InboundStreams
from rayka.cluster._kinds import Kind
from rayka.cluster._transport import Transport
from rayka.cluster._wire import (
    MAX_NESTING, WIRE_VERSION, Decoder, Encoder, MalformedBatch, StreamId, UndecodablePayload,
)
from rayka.cluster._wire_format import _EXT_TUPLE
from tests.cluster.cluster_actors import Counter

pytestmark = pytest.mark.timeout(120)


def nested(depth: int) -> tuple:
    value: tuple = ()
    for _ in range(depth):
        value = (value,)
    return value


def frame(body: object) -> bytes:
    packed = msgpack.packb(body)
    return b"RK" + bytes((WIRE_VERSION,)) + zlib.crc32(packed).to_bytes(4, "big") + packed


def hostile_tuples(depth: int) -> ExtType:
    inner = msgpack.packb([])
    for _ in range(depth):
        inner = msgpack.packb(ExtType(_EXT_TUPLE, inner))
    return ExtType(_EXT_TUPLE, inner)


def test_tuples_nested_up_to_the_limit_travel_and_deeper_ones_are_refused_naming_it() -> None:
    encoder, decoder = Encoder(), Decoder()
    fits = nested(MAX_NESTING - 1)
    data = encoder.join_batch(StreamId("n", 1), 0, [encoder.encode_record("/user/a", None, 0, fits)])
    assert decoder.decode_batch(data)[2][0][3] == fits
    with pytest.raises(rayka.SerializationError, match=f"nested deeper than {MAX_NESTING} levels"):
        encoder.encode_record("/user/a", None, 0, nested(200))


def test_a_batch_of_tuples_nested_thousands_deep_decodes_to_an_undecodable_payload() -> None:
    data = frame(["n", 1, 0, [["/user/a", None, 0, hostile_tuples(5_000), None], ["/user/a", None, 0, 7, None]]])
    records = Decoder().decode_batch(data)[2]
    assert type(records[0][3]) is UndecodablePayload and "nested deeper" in str(records[0][3])
    assert records[1][3] == 7  # the rest of the batch is intact


@pytest.mark.cluster
def test_a_node_survives_hostile_records_and_its_actors_keep_answering(cluster_system) -> None:
    ref = cluster_system.spawn(Counter, node=1)
    assert ref.ask("count", timeout=10).result() == 0
    handle = cluster_system.cluster.handles["n1"]
    before = cluster_system.cluster.node_info()["n1"]
    letters = cluster_system.dead_letters.count
    records = [
        [ref.path, None, Kind.TELL, hostile_tuples(5_000), None],  # would overflow the C stack
        [ref.path, 123, Kind.ASK, "x", "not an id"],  # the asks that used to wedge the actor
        [ref.path, ["a"], Kind.ASK, "x", 5],
        [ref.path, ["n", 5, "uid"], Kind.TELL, "x", None],
        [12, None, Kind.TELL, "x", None],
        [ref.path, "driver", 99, "x", None],
        [ref.path, "driver", Kind.SPAWN, [b"junk", None, 0, 1, "x"], None],
        [ref.path, None, Kind.TELL, "fine", None],
    ]
    import ray

    ray.get(handle.deliver.remote(frame(["hostile", 1, 0, records]), 0.0), timeout=30)
    assert ref.ask("count", timeout=10).result() == 1  # only the well-formed tell got through
    after = cluster_system.cluster.node_info()["n1"]
    assert after["malformed_records"] >= before["malformed_records"] + 5
    assert cluster_system.dead_letters.count >= letters + 1  # the undecodable tell, dead-lettered


@pytest.fixture(scope="module")
def receiving_node():
    """An embedded system with a transport, to feed batches into as another node would."""
    system = rayka.ActorSystem("fuzzed", shutdown_timeout=2.0)
    transport = Transport(system, "n0", 1)
    counter = system.spawn(Counter, name="target")
    try:
        yield system, transport, counter
    finally:
        system.shutdown(timeout=10)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
fields = values | st.just("/user/target") | st.lists(st.text(max_size=6) | st.integers(), min_size=3, max_size=3)
records = st.lists(st.tuples(fields, fields, st.integers(0, 12), values, fields), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=records, seq=st.integers(0, 50))
def test_random_records_never_break_the_receiving_node(receiving_node, batch, seq) -> None:
    system, transport, counter = receiving_node
    encoder = Encoder()
    try:
        data = encoder.encode_batch(StreamId(f"fuzz{seq}", 1), 0, batch)
    except rayka.SerializationError:
        return
    transport.receive(data)  # never raises: every bad record is rejected one by one
    assert isinstance(counter.ask("count", timeout=10).result(), int)  # and the node's actors still answer


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_are_a_malformed_batch_and_nothing_else(data) -> None:
    try:
        Decoder().decode_batch(b"RK" + bytes((WIRE_VERSION,)) + data)
    except MalformedBatch:
        pass


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_truncated_or_flipped_batches_are_malformed_never_misread(cut, flip, bit) -> None:
    encoder = Encoder()
    data = encoder.encode_batch(StreamId("n", 1), 0, [("/user/a", None, 0, ("x", i, [i] * 3), None) for i in range(20)])
    truncated = data[: cut % len(data)]
    damaged = bytearray(data)
    damaged[flip % len(data)] ^= 1 << bit
    for bad in (truncated, bytes(damaged)):
        with pytest.raises(MalformedBatch):
            Decoder().decode_batch(bad)


@settings(max_examples=100, deadline=None)
@given(order=st.permutations(list(range(12))), repeats=st.lists(st.integers(0, 11), max_size=6))
def test_reordered_and_duplicated_batches_are_delivered_once_in_order(order, repeats) -> None:
    encoder, streams = Encoder(), InboundStreams(Decoder().decode_batch)
    batches = [encoder.encode_batch(StreamId("n", 1), 3 * i, [("/t", None, 0, 3 * i + k, None) for k in range(3)])
               for i in range(12)]
    delivered = []
    for index in [*order, *repeats]:
        delivered.extend(record[3] for record in streams.receive(batches[index]))
    assert delivered == list(range(36))
    rng = random.Random(len(repeats))
    assert streams.receive(batches[rng.randrange(12)]) == []  # a late duplicate changes nothing


class _LoopbackHandle:
    """Stands in for a node runtime's Ray handle: ``deliver`` runs on another in-process system's transport.

    ``damage`` names batch numbers (in call order) whose bytes get one bit flipped on the way, as a bad
    link would.
    """

    def __init__(self, transport: Transport, damage: set[int]) -> None:
        self.transport = transport
        self.damage = damage
        self.calls = 0
        self.deliver = self

    def remote(self, data: bytes, wait: float = 0.0):
        import asyncio

        self.calls += 1
        if self.calls in self.damage:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x10
            data = bytes(data)
        future = asyncio.run_coroutine_threadsafe(self.transport.receive_and_reply(data, wait), self.transport.loop)
        return _Call(future)


class _Call:
    def __init__(self, future) -> None:
        self._future = future

    def future(self):
        return self._future


def test_a_batch_damaged_on_the_way_is_sent_again_and_nothing_is_lost_or_reordered() -> None:
    from tests.cluster.cluster_actors import OrderChecker

    sending = rayka.ActorSystem("sending", shutdown_timeout=2.0)
    receiving = rayka.ActorSystem("receiving", shutdown_timeout=2.0)
    try:
        there = Transport(receiving, "b", 2, batch_size=100)
        here = Transport(sending, "a", 1, batch_size=100)
        checker = receiving.spawn(OrderChecker, name="checker")
        here.add_peer("b", _LoopbackHandle(there, damage={2, 5, 6}))
        cell_ref = here.ref_for(("b", "/user/checker", checker._cell.uid))
        probe = TestProbe(receiving)
        checker.tell(("notify", 5_000, probe.ref))
        for i in range(5_000):
            cell_ref.tell(("a", i))
        probe.expect("reached", timeout=30)
        report = checker.ask("report", timeout=10).result()
        assert report == {"count": 5_000, "disorder": 0, "next": {"a": 5_000}}
        assert there.malformed_batches == 3
    finally:
        sending.shutdown(timeout=10)
        receiving.shutdown(timeout=10)


def test_an_empty_batch_with_a_future_sequence_number_does_not_shadow_the_real_one() -> None:
    encoder, streams = Encoder(), InboundStreams(Decoder().decode_batch)
    assert streams.receive(encoder.join_batch(StreamId("n", 1), 5, [])) == []
    first = encoder.encode_batch(StreamId("n", 1), 0, [("/t", None, 0, i, None) for i in range(5)])
    real = encoder.encode_batch(StreamId("n", 1), 5, [("/t", None, 0, i, None) for i in range(5, 8)])
    assert [r[3] for r in streams.receive(first)] == [0, 1, 2, 3, 4]
    assert [r[3] for r in streams.receive(real)] == [5, 6, 7]


def test_a_fenced_incarnation_is_refused_and_a_newer_one_is_taken() -> None:
    encoder, streams = Encoder(), InboundStreams(Decoder().decode_batch)
    old, new = StreamId("n1", 5), StreamId("n1", 9)
    assert [r[3] for r in streams.receive(encoder.encode_batch(old, 0, [("/t", None, 0, "a", None)]))] == ["a"]
    streams.fence("n1", 5)  # membership downed incarnation 5
    assert streams.receive(encoder.encode_batch(old, 1, [("/t", None, 0, "late", None)])) == []
    assert streams.receive(encoder.encode_batch(StreamId("n1", 4), 0, [("/t", None, 0, "older", None)])) == []
    assert [r[3] for r in streams.receive(encoder.encode_batch(new, 0, [("/t", None, 0, "b", None)]))] == ["b"]
    assert streams.statistics().stale_batches == 2
