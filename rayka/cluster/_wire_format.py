"""Describe the layout of a batch on the wire, and the types both ends share.

A batch is a 7-byte frame header followed by one msgpack array::

    b"RK", WIRE_VERSION (1 byte), CRC-32 of what follows (4 bytes, big-endian)
    [node, incarnation, first_seq, [record, record, ...]]

The checksum makes any damaged or foreign bytes fail before a single payload
is unpickled.

``(node, incarnation)`` names the sending stream (:class:`StreamId`) and the
records carry the consecutive sequence numbers ``first_seq, first_seq + 1,
...``: a record holds no sequence number of its own. A record is a
five-element array::

    [target, sender, kind, payload, reply_id]

``target`` is the receiving actor's path or id, ``sender`` the sending actor's
path or ``None``, ``kind`` a non-negative int chosen by the transport (user
message, system message, reply, ...), ``payload`` the message and
``reply_id`` the id of the ask waiting for a reply, or ``None``. Decoded
records are lists in that layout; index them with :data:`TARGET`,
:data:`SENDER`, :data:`KIND`, :data:`PAYLOAD` and :data:`REPLY_ID`.

Payloads: what msgpack carries natively (``None``, ``bool``, ``int`` within
64 bits, ``float``, ``str``, ``bytes``, ``list``, ``dict``) travels as
msgpack. A payload that is itself a tuple travels as a list and the record's
kind is stored as ``~kind`` (negative) to mark it, which costs nothing to
decode; tuples nested deeper travel as an ext type holding a msgpack array.
Everything else (dataclasses, enums, sets, classes defined in ``__main__``,
huge ints, ...) travels as an ext type holding cloudpickle bytes. Subclasses
of the native types (``IntEnum``, named tuples) are pickled, so they keep their
type. ``bytearray`` and ``memoryview`` arrive as ``bytes``.

Hooks: ``Encoder(encode_hook=f)`` calls ``f(obj)`` for every object msgpack
cannot carry (also inside pickled objects, through ``persistent_id``); ``f``
returns a substitute that the encoder can carry (never ``None``), or ``None``
to decline. ``Decoder(decode_hook=g)`` calls ``g(substitute)`` to rebuild the
object. This is how actor refs travel inside messages.

Errors: :meth:`Encoder.encode_record` raises
:class:`~rayka._errors.SerializationError` naming the message type, with the
underlying error in ``__cause__``. :meth:`Decoder.decode_batch` raises
:class:`MalformedBatch` (a :class:`~rayka._errors.TransportError`) for bytes
that are not a batch; a single payload that cannot be rebuilt (a class
missing on this node, a failing decode hook) does not spoil its batch: that
record's payload becomes an :class:`UndecodablePayload`.

Nesting (the rule of :mod:`rayka._values`, which journals follow too): tuples and hooked objects
nest at most :data:`MAX_NESTING` levels
(each level is a nested decode; a few hundred would overflow the C stack of
the receiving process); deeper messages are refused at ``encode_record`` with
``SerializationError`` naming the limit, and a deeper payload that arrives
anyway becomes an ``UndecodablePayload``, never a crash. Lists and dicts nest
as deep as msgpack packs them (past that, and for cycles, the payload is
pickled; decoding either runs no recursion in Python).

The msgpack-only wire (``Encoder(strict=True)``, ``Decoder(strict=True)``;
``RayCluster(wire="msgpack")``): nothing is pickled. A registered type (a
dataclass, a named tuple, an enum), a registered function and an actor class
travel by name as ext type ``EXT_NAMED`` (see :mod:`rayka.cluster._named`),
an exception as ext type ``EXT_ERROR`` (its type's name, its args, its
message); anything else is refused at ``encode_record`` with
``SerializationError`` saying how to register it, and a pickle that arrives
anyway becomes an ``UndecodablePayload`` without being loaded. Both decoders
read by-name values and errors.

Security: by default payloads may hold pickles, so a batch is trusted code.
Exchange batches only between the nodes of one cluster, as Ray does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from rayka._errors import TransportError
from rayka._values import EXT_ERROR, EXT_HOOK, EXT_NAMED, EXT_PICKLE, EXT_TUPLE, MAX_NESTING, PICKLE_PROTOCOL

__all__ = [
    "KIND",
    "PAYLOAD",
    "REPLY_ID",
    "SENDER",
    "TARGET",
    "WIRE_VERSION",
    "MAX_NESTING",
    "Hook",
    "MalformedBatch",
    "StreamId",
    "UndecodablePayload",
]

WIRE_VERSION = 2
"""Version of the batch layout; a decoder refuses batches of another version."""


_MAGIC = b"RK"
_FRAME_HEADER = 7  # magic, version, CRC-32

TARGET, SENDER, KIND, PAYLOAD, REPLY_ID = range(5)

# Ext type codes, pickle protocol and nesting limit: the one rule of rayka._values, which journals follow too.
_EXT_TUPLE, _EXT_PICKLE, _EXT_HOOK, _PICKLE_PROTOCOL = EXT_TUPLE, EXT_PICKLE, EXT_HOOK, PICKLE_PROTOCOL
_EXT_NAMED, _EXT_ERROR = EXT_NAMED, EXT_ERROR

Hook = Callable[[Any], Any]
"""An encode or decode hook: one object in, its substitute (or rebuilt object) out."""


class StreamId(NamedTuple):
    """Name one ordered stream: the sending node and its incarnation.

    Example:
        >>> StreamId("node-1", 3).incarnation
        3
    """

    node: str
    incarnation: int


@dataclass(frozen=True, slots=True)
class UndecodablePayload:
    """Stand in for a payload that arrived but could not be rebuilt on this node.

    Attributes:
        error: Why it could not be rebuilt (for example a ``ModuleNotFoundError``
            for a class that this node cannot import).
    """

    error: BaseException

    def __repr__(self) -> str:
        return f"UndecodablePayload({type(self.error).__name__}: {self.error})"


class MalformedBatch(TransportError):
    """Bytes that are not a rayka batch (corrupt, truncated, or another version).

    Attributes:
        stream_id: The sending stream when the header could be read, else ``None``.
        first_seq: The batch's first sequence number, or ``None``.
        count: How many records the batch claimed, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        stream_id: StreamId | None = None,
        first_seq: int | None = None,
        count: int | None = None,
    ) -> None:
        super().__init__(message)
        self.stream_id = stream_id
        self.first_seq = first_seq
        self.count = count
