"""The msgpack-only wire, ``RayCluster(wire="msgpack")``: nothing pickled either way, types by name."""

from __future__ import annotations

import os
import pathlib
import sys
import textwrap
import zlib

import msgpack
import pytest
from msgpack import ExtType

import rayka
from rayka.cluster._kinds import Kind
from rayka.cluster._named import register
from rayka.cluster._wire import WIRE_VERSION, Decoder, Encoder, UndecodablePayload
from rayka.cluster._wire_format import _EXT_PICKLE
from rayka.mailbox import Priority
from tests.cluster.wire_types import Added, Cart, CartError, NotRegistered, Size, by_size

pytestmark = pytest.mark.timeout(120)


class Touch:
    """Unpickling this creates a file: proof that a pickle was, or was not, loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def pickled_record(target: str, path: pathlib.Path) -> list:
    import cloudpickle

    return [target, None, Kind.TELL, ExtType(_EXT_PICKLE, cloudpickle.dumps(Touch(str(path)))), None]


def frame(body: object) -> bytes:
    packed = msgpack.packb(body)
    return b"RK" + bytes((WIRE_VERSION,)) + zlib.crc32(packed).to_bytes(4, "big") + packed


# -- the codec, in this process ------------------------------------------------------------------------------

def roundtrip(value: object) -> object:
    return Decoder(strict=True).decode_record(Encoder(strict=True).encode_record("/user/a", None, 0, value))[3]


def test_registered_types_enums_functions_and_actor_classes_travel_by_name() -> None:
    value = [Added("tea", 2, ("gift",)), {"size": Size.LARGE}, by_size, Cart, Priority(by_size, capacity=5)]
    assert roundtrip(value) == value
    assert roundtrip(rayka.Restart.PERMANENT) is rayka.Restart.PERMANENT


def test_errors_travel_by_name_and_become_remote_errors_where_their_class_is_not_imported() -> None:
    rebuilt = roundtrip(CartError("no cart", 3))
    assert type(rebuilt) is CartError and rebuilt.args == ("no cart", 3)
    form = ExtType(5, msgpack.packb(["not_imported_anywhere:Boom", ["x"], "boom happened"]))
    data = frame(["n", 1, 0, [["/user/a", None, Kind.REPLY_ERROR, form, 1]]])
    error = Decoder(strict=True).decode_batch(data)[2][0][3]
    assert type(error) is rayka.RemoteError and error.type_name == "not_imported_anywhere:Boom"
    assert "boom happened" in str(error)


@pytest.mark.parametrize("value, says", [
    (NotRegistered(1), "decorate tests.cluster.wire_types.NotRegistered with @rayka.cluster.register"),
    ([1, {2, 3}], "a set has no msgpack form"),
    (lambda m: m, "<lambda> has no name to travel by"),
    (2 ** 70, "an int beyond 64 bits"),
])
def test_what_cannot_travel_by_name_is_refused_at_encode_naming_the_type_and_the_fix(value, says) -> None:
    with pytest.raises(rayka.SerializationError, match="RayCluster\\(wire='msgpack'\\) carries only") as caught:
        Encoder(strict=True).encode_record("/user/a", None, 0, value)
    assert says in str(caught.value)


def test_a_class_defined_in_main_or_in_a_function_is_refused_with_the_reason() -> None:
    class Local:
        pass

    main = type("Script", (), {"__module__": "__main__"})
    for value, says in ((Local(), "has no name to travel by"), (main(), "defined in __main__")):
        with pytest.raises(rayka.SerializationError, match=says):
            Encoder(strict=True).encode_record("/user/a", None, 0, value)


def test_a_pickle_on_the_wire_is_refused_unread_and_the_rest_of_the_batch_arrives(tmp_path) -> None:
    marker = tmp_path / "unpickled"
    data = frame(["n", 1, 0, [pickled_record("/user/a", marker), ["/user/a", None, Kind.TELL, 7, None]]])
    records = Decoder(strict=True).decode_batch(data)[2]
    assert type(records[0][3]) is UndecodablePayload and "refused unread" in str(records[0][3])
    assert records[1][3] == 7 and not marker.exists()
    Decoder().decode_batch(data)  # the default wire loads it: the check above can fail
    assert marker.exists()


def test_a_name_that_is_not_registered_is_refused_and_never_called() -> None:
    form = ExtType(4, msgpack.packb(["os:system", "echo owned"]))
    record = Decoder(strict=True).decode_batch(frame(["n", 1, 0, [["/user/a", None, 0, form, None]]]))[2][0]
    assert type(record[3]) is UndecodablePayload and "is not registered" in str(record[3])


def test_a_wire_name_taken_by_another_type_is_refused_at_register() -> None:
    with pytest.raises(TypeError, match="already registered"):
        register(NotRegistered, name="tests.cluster.wire_types:Added")


def test_a_cluster_refuses_an_unknown_wire() -> None:
    with pytest.raises(ValueError, match="'pickle' \\(the default\\) or 'msgpack'"):
        rayka.RayCluster(wire="json")


# -- on a cluster ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def msgpack_system(ray_cluster):
    system = rayka.ActorSystem("wire", cluster=rayka.RayCluster(address=ray_cluster.address, nodes=2, wire="msgpack"))
    try:
        yield system
    finally:
        system.shutdown()


@pytest.mark.cluster
def test_messages_spawns_and_errors_cross_nodes_without_a_pickle(msgpack_system) -> None:
    alice = msgpack_system.spawn(Cart, "alice", Size.LARGE, node=0)  # the class and the enum by name
    bob = msgpack_system.spawn(Cart, "bob", node=1, mailbox=Priority(by_size))
    owner, size, pid = alice.ask("whoami", timeout=30).result()
    assert (owner, size) == ("alice", Size.LARGE) and pid != os.getpid()
    assert alice.ask(Added("tea", 2, ("gift",)), timeout=10).result() == 1
    assert alice.proxy(timeout=10).add("cake", 3).result() == Added("cake", 3)
    assert alice.ask(["forward", bob, "whoami"], timeout=10).result()[0] == "bob"  # a ref inside a message
    items = alice.ask(["send", bob, 500], timeout=30).result()  # node to node, in order
    assert [item.count for item in items] == list(range(500))
    with pytest.raises(CartError, match="cart of alice refused"):  # its class is imported here: itself
        alice.ask("fail", timeout=10).result()
    with pytest.raises(rayka.RemoteError, match="no stock for alice") as caught:  # only the node imports it
        alice.ask("fail-node-only", timeout=10).result()
    assert caught.value.type_name == "tests.cluster.wire_node_errors:StockError"
    assert "tests.cluster.wire_node_errors" not in sys.modules


@pytest.mark.cluster
def test_an_unregistered_message_is_refused_at_tell_and_nothing_is_sent(msgpack_system) -> None:
    cart = msgpack_system.spawn(Cart, "carol", node=1)
    with pytest.raises(rayka.SerializationError, match="NotRegistered with @rayka.cluster.register"):
        cart.tell(NotRegistered(1))
    with pytest.raises(TypeError, match="cannot send a NotRegistered to another node") as caught:
        msgpack_system.spawn(Cart, NotRegistered(2), node=0)
    assert "Cart and its constructor arguments" in str(caught.value)
    assert cart.ask("items", timeout=10).result() == []


@pytest.mark.cluster
def test_a_class_the_nodes_cannot_import_is_a_clear_error_naming_the_module(msgpack_system, tmp_path) -> None:
    (tmp_path / "only_here.py").write_text(textwrap.dedent("""
        import rayka

        class Hidden(rayka.Actor):
            def receive(self, message):
                return message
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        from only_here import Hidden  # type: ignore[import-not-found]

        with pytest.raises(rayka.ClassNotImportable, match="module 'only_here' is not importable there") as caught:
            msgpack_system.spawn(Hidden, node=0)
    finally:
        sys.path.remove(str(tmp_path))
    assert "classes travel by name" in str(caught.value) and "runtime_env" in str(caught.value)


@pytest.mark.cluster
def test_a_node_refuses_a_pickled_payload_and_a_pickled_spawn_unread_and_keeps_answering(msgpack_system,
                                                                                       tmp_path) -> None:
    import cloudpickle
    import ray

    cart = msgpack_system.spawn(Cart, "dave", node=1)
    letters = msgpack_system.dead_letters.count
    marker, spawned = tmp_path / "unpickled", tmp_path / "spawned"
    records = [
        pickled_record(cart.path, marker),
        ["/user/sneaky", "driver", Kind.SPAWN, [cloudpickle.dumps(Touch(str(spawned))), None, 0, 1, "x"], None],
        [cart.path, None, Kind.TELL, "fine", None],
    ]
    ray.get(msgpack_system.cluster.handles["n1"].deliver.remote(frame(["hostile", 1, 0, records]), 0.0), timeout=30)
    assert cart.ask("whoami", timeout=10).result()[0] == "dave"
    assert not marker.exists() and not spawned.exists()
    assert msgpack_system.dead_letters.count >= letters + 1  # the refused tell, dead-lettered on the driver's view


@pytest.mark.cluster
def test_entity_refs_travel_by_name_on_the_msgpack_wire(msgpack_system) -> None:
    carts = msgpack_system.entities(Cart, name="wire-carts")
    front = msgpack_system.spawn(Cart, "front", node=0)
    assert front.ask(["forward", carts.ref("erin"), "whoami"], timeout=30).result()[0] == "erin"
    assert carts.ref("erin").ask(Added("pen", 1), timeout=10).result() == 1
