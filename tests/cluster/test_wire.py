"""The wire format: what goes in comes out, and bad input fails clearly."""

from __future__ import annotations

import collections
import datetime
import enum
import random
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import msgpack
import pytest

from rayka._errors import RaykaError, SerializationError, TransportError
from rayka.cluster._wire import (
    KIND,
    PAYLOAD,
    REPLY_ID,
    SENDER,
    TARGET,
    Decoder,
    Encoder,
    MalformedBatch,
    WIRE_VERSION,
    StreamId,
    UndecodablePayload,
    decode_batch,
    encode_batch,
)

pytestmark = pytest.mark.timeout(30)

SID = StreamId("node-a", 3)


@dataclass(frozen=True, slots=True)
class Add:
    amount: int
    tags: tuple[str, ...] = ()


@dataclass
class Order:
    item: str
    lines: list[tuple[str, int]] = field(default_factory=list)


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 2


Pair = collections.namedtuple("Pair", "left right")


class Ref:
    """Stands in for an actor ref, which must travel through the hooks."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.path == self.path


def round_trip(payload: object) -> object:
    _, _, records = decode_batch(encode_batch(SID, 0, [("/user/x", None, 0, payload, None)]))
    return records[0][PAYLOAD]


NATIVE = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    1.5,
    float("inf"),
    "",
    "héllo ✓",
    b"",
    b"\x00\xff",
    [],
    [1, [2, [3]]],
    {},
    {"a": 1, "b": [None, 2.5]},
    {1: "one", 2: {"x": b"y"}},
]


@pytest.mark.parametrize("payload", NATIVE, ids=repr)
def test_every_msgpack_native_value_comes_back_equal_and_of_the_same_type(payload: object) -> None:
    back = round_trip(payload)
    assert back == payload
    assert type(back) is type(payload)


TUPLES = [
    ("add", 5),
    (),
    ("x",),
    ((1, 2), (3, (4,))),
    ("batch", [("a", 1), ("b", 2)]),
    ("put", {"key": ("nested", True)}),
]


@pytest.mark.parametrize("payload", TUPLES, ids=repr)
def test_tuples_come_back_as_tuples_at_every_depth(payload: object) -> None:
    back = round_trip(payload)
    assert back == payload
    assert type(back) is tuple


def test_lists_stay_lists_next_to_tuples() -> None:
    back = round_trip([("a", [1, (2,)]), [3]])
    assert back == [("a", [1, (2,)]), [3]]
    assert type(back[0]) is tuple and type(back[0][1]) is list and type(back[1]) is list


def test_tuple_dictionary_keys_come_back_hashable() -> None:
    assert round_trip({(1, "a"): "x", 5: (6,)}) == {(1, "a"): "x", 5: (6,)}


@pytest.mark.parametrize(
    "payload",
    [
        Add(5, ("x",)),
        Order("book", [("isbn", 1)]),
        Point(1, 2),
        ("move", Point(3, 4)),
        Color.RED,
        Level.HIGH,
        Pair(1, 2),
        {1, 2},
        frozenset({"a"}),
        10**30,
        -(10**30),
        3 + 4j,
        datetime.datetime(2024, 1, 2, 3, 4, 5),
        bytearray(b"ab"),
    ],
    ids=repr,
)
def test_objects_beyond_msgpack_come_back_equal_and_of_the_same_type(payload: object) -> None:
    back = round_trip(payload)
    if isinstance(payload, bytearray):  # documented: travels as bytes
        assert back == bytes(payload)
        return
    assert back == payload
    assert type(back) is type(payload)


def test_a_class_defined_inside_a_function_travels_by_value() -> None:
    @dataclass(frozen=True)
    class Local:
        value: int

    back = round_trip(("local", Local(7)))
    assert back[0] == "local"
    assert back[1].value == 7


def test_a_self_referencing_list_travels_through_pickle() -> None:
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    back = round_trip(cyclic)
    assert back[0] == 1 and back[1] is back


def test_every_record_field_and_the_batch_header_come_back() -> None:
    records = [("/user/a", "/user/b", 0, ("add", 1), None), (17, None, 9, "get", 123456789)]
    stream_id, first_seq, decoded = decode_batch(encode_batch(SID, 41, records))
    assert stream_id == SID and isinstance(stream_id, StreamId)
    assert first_seq == 41
    assert [tuple(r) for r in decoded] == records
    assert decoded[1][TARGET] == 17 and decoded[1][SENDER] is None
    assert decoded[1][KIND] == 9 and decoded[1][REPLY_ID] == 123456789


def test_a_batch_of_a_thousand_records_keeps_their_order() -> None:
    encoder = Encoder()
    encoded = [encoder.encode_record("/user/c", None, i % 3, ("add", i)) for i in range(1000)]
    _, _, decoded = Decoder().decode_batch(encoder.join_batch(SID, 5000, encoded))
    assert [r[PAYLOAD] for r in decoded] == [("add", i) for i in range(1000)]
    assert [r[KIND] for r in decoded] == [i % 3 for i in range(1000)]


def test_an_empty_batch_round_trips() -> None:
    assert decode_batch(encode_batch(SID, 7, [])) == (SID, 7, [])


def test_a_negative_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        Encoder().encode_record("/user/a", None, -1, "x")


@pytest.mark.parametrize(
    ("payload", "type_name"),
    [
        (threading.Lock(), "lock"),
        ((x for x in range(3)), "generator"),
        (("put", threading.Lock()), "tuple"),
        ({"file": threading.Event()._cond}, "dict"),
    ],
    ids=["lock", "generator", "lock-in-tuple", "condition-in-dict"],
)
def test_a_message_that_cannot_travel_raises_serialization_error_naming_its_type(
    payload: object, type_name: str
) -> None:
    with pytest.raises(SerializationError) as info:
        Encoder().encode_record("/user/counter", None, 0, payload)
    message = str(info.value)
    assert type_name in message
    assert "/user/counter" in message
    assert "keep locks" in message  # says what to do instead
    assert isinstance(info.value.__cause__, Exception)
    assert isinstance(info.value, RaykaError)


def test_one_bad_message_fails_encode_batch_and_the_encoder_still_works_after() -> None:
    encoder = Encoder()
    with pytest.raises(SerializationError):
        encoder.encode_batch(SID, 0, [("/user/a", None, 0, "ok", None), ("/user/a", None, 0, threading.Lock(), None)])
    assert decode_batch(encoder.encode_batch(SID, 0, [("/user/a", None, 0, ("fine",), None)]))[2][0][PAYLOAD] == (
        "fine",
    )


def frame(body: object, *, version: int = WIRE_VERSION) -> bytes:
    """Frame any msgpack value the way the encoder frames a batch, valid checksum included."""
    packed = msgpack.packb(body)
    return b"RK" + bytes((version,)) + zlib.crc32(packed).to_bytes(4, "big") + packed


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"junk",
        b"RK" + bytes((WIRE_VERSION,)),
        b"RK" + bytes((WIRE_VERSION,)) + b"\x00\x00\x00\x00",
        frame([]),
        frame({"a": 1}),
        frame(b"\xc1"),
        frame(["n", 1, 0]),
        frame([5, 1, 0, []]),
        frame(["n", "1", 0, []]),
        frame(["n", 1, -4, []]),
        frame(["n", 1, 0, "x"]),
        frame(["n", 1, 0, [["t", None, 0]]]),
        frame(["n", 1, 0, [["t", None, "k", 1, None]]]),
        frame(["n", 1, 0, [["t", None, -1, 7, None]]]),
        frame(["n", 1, 0, ["record"]]),
        frame(["n", 1, 0, []])[:-1] + b"\x00",
        "not bytes",
        None,
        12,
    ],
    ids=lambda data: repr(data)[:24],
)
def test_malformed_input_raises_malformed_batch_a_transport_error(data: object) -> None:
    with pytest.raises(MalformedBatch) as info:
        decode_batch(data)  # type: ignore[arg-type]
    assert isinstance(info.value, TransportError)
    assert "malformed batch" in str(info.value)


def test_a_wrong_wire_version_is_named_in_the_error() -> None:
    with pytest.raises(MalformedBatch, match=f"wire version {WIRE_VERSION + 1}"):
        decode_batch(frame(["n", 1, 0, []], version=WIRE_VERSION + 1))


def test_a_frame_whose_content_is_bad_still_names_its_stream_and_range() -> None:
    with pytest.raises(MalformedBatch) as info:
        decode_batch(frame(["n", 4, 10, [["t", None, 0, 1, None], ["bad"]]]))
    assert (info.value.stream_id, info.value.first_seq, info.value.count) == (StreamId("n", 4), 10, 2)


def test_a_truncated_batch_fails_its_checksum() -> None:
    data = encode_batch(SID, 10, [("/user/a", None, 0, ("add", i), None) for i in range(20)])
    with pytest.raises(MalformedBatch, match="checksum"):
        decode_batch(data[: len(data) // 2])


def test_random_damage_is_caught_before_any_payload_is_unpickled() -> None:
    data = encode_batch(SID, 0, [("/user/a", "/user/b", 1, ("add", i, Add(i)), i) for i in range(30)])
    rng = random.Random(1)
    for _ in range(1500):
        corrupt = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        cut = rng.randint(0, 1) and rng.randrange(len(corrupt))
        damaged = bytes(corrupt[: cut or None])
        if damaged == data:
            continue
        with pytest.raises(MalformedBatch):
            decode_batch(damaged)


def test_a_payload_that_cannot_be_rebuilt_spoils_only_its_own_record() -> None:
    good = msgpack.packb(["/user/a", None, 0, "fine", None])
    bad = msgpack.packb(["/user/b", None, 0, ["x", msgpack.ExtType(2, b"not a pickle")], 4])
    data = Encoder().join_batch(SID, 0, [good, bad, good])
    _, _, records = decode_batch(data)
    assert records[0][PAYLOAD] == "fine" and records[2][PAYLOAD] == "fine"
    assert isinstance(records[1][PAYLOAD], UndecodablePayload)
    assert records[1][TARGET] == "/user/b" and records[1][REPLY_ID] == 4


def test_refs_travel_through_the_hooks_at_any_depth_and_inside_pickled_objects() -> None:
    def encode_hook(obj: object) -> object:
        return ["ref", obj.path] if isinstance(obj, Ref) else None

    def decode_hook(substitute: object) -> object:
        assert isinstance(substitute, list) and substitute[0] == "ref"
        return Ref(substitute[1])

    payload = ("reply-to", Ref("/user/a"), {"watch": [Ref("/user/b")]}, Order("x", [("y", 1)]), Holder(Ref("/c")))
    data = Encoder(encode_hook=encode_hook).encode_batch(SID, 0, [("/user/t", None, 0, payload, None)])
    back = Decoder(decode_hook=decode_hook).decode_batch(data)[2][0][PAYLOAD]
    assert back == payload
    assert back[4].ref == Ref("/c")


@dataclass(frozen=True)
class Holder:
    ref: Ref


def test_a_hooked_object_without_a_decode_hook_is_undecodable_not_a_crash() -> None:
    data = Encoder(encode_hook=lambda o: ["ref", o.path] if isinstance(o, Ref) else None).encode_batch(
        SID, 0, [("/user/t", None, 0, ("to", Ref("/user/a")), None)]
    )
    assert isinstance(decode_batch(data)[2][0][PAYLOAD], UndecodablePayload)


def test_one_encoder_and_decoder_serve_many_threads_at_once() -> None:
    encoder, decoder = Encoder(), Decoder()

    def work(worker: int) -> list[object]:
        records = [encoder.encode_record("/user/a", None, 0, ("w", worker, i, Add(i) if i % 7 == 0 else (i,)))
                   for i in range(300)]
        return [r[PAYLOAD] for r in decoder.decode_batch(encoder.join_batch(SID, 0, records))[2]]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(8)))
    for worker, payloads in enumerate(results):
        assert payloads == [("w", worker, i, Add(i) if i % 7 == 0 else (i,)) for i in range(300)]
