"""The wire format for batches of messages between nodes.

One import for the transport: the layout and its rules are described in
:mod:`rayka.cluster._wire_format`, encoding in :mod:`rayka.cluster._wire_encode`,
decoding in :mod:`rayka.cluster._wire_decode`.

Example:
    >>> data = encode_batch(StreamId("node-1", 1), 0, [("/user/c", None, 0, ("add", 5), None)])
    >>> decode_batch(data)
    (StreamId(node='node-1', incarnation=1), 0, [['/user/c', None, 0, ('add', 5), None]])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rayka.cluster._wire_decode import Decoder
from rayka.cluster._wire_encode import Encoder
from rayka.cluster._wire_format import (
    KIND,
    PAYLOAD,
    REPLY_ID,
    SENDER,
    TARGET,
    WIRE_VERSION,
    MAX_NESTING,
    Hook,
    MalformedBatch,
    StreamId,
    UndecodablePayload,
)

__all__ = [
    "KIND",
    "PAYLOAD",
    "REPLY_ID",
    "SENDER",
    "TARGET",
    "WIRE_VERSION",
    "MAX_NESTING",
    "Decoder",
    "Encoder",
    "Hook",
    "MalformedBatch",
    "StreamId",
    "UndecodablePayload",
    "decode_batch",
    "encode_batch",
]

_default_encoder = Encoder()
_default_decoder = Decoder()


def encode_batch(stream_id: StreamId, first_seq: int, records: Iterable[Sequence[Any]]) -> bytes:
    """Encode ``(target, sender, kind, payload, reply_id)`` records into one batch, without hooks.

    Raises:
        SerializationError: A payload cannot be serialized.
    """
    return _default_encoder.encode_batch(stream_id, first_seq, records)


def decode_batch(data: bytes) -> tuple[StreamId, int, list[list[Any]]]:
    """Decode one batch made without hooks; see :meth:`Decoder.decode_batch`.

    Raises:
        MalformedBatch: The bytes are not a batch of this wire version.
    """
    return _default_decoder.decode_batch(data)
