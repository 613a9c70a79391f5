"""Decode batches back into records (see :mod:`rayka.cluster._wire_format`)."""

from __future__ import annotations

import io
import pickle
import zlib
from collections.abc import Callable
from typing import Any

import msgpack

from rayka._errors import SerializationError
from rayka.cluster._named import error_from_wire, from_wire
from rayka.cluster._wire_format import (
    _EXT_ERROR,
    _EXT_HOOK,
    _EXT_NAMED,
    _EXT_PICKLE,
    _EXT_TUPLE,
    MAX_NESTING,
    _FRAME_HEADER,
    _MAGIC,
    WIRE_VERSION,
    Hook,
    MalformedBatch,
    StreamId,
    UndecodablePayload,
)

__all__ = ["Decoder"]

_REFUSED = ("a pickled payload arrived and was refused unread: this cluster's wire is msgpack-only "
            "(RayCluster(wire='msgpack')); the sender must send plain data or registered types")


class _HookUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds hooked objects with ``persistent_load``."""

    def __init__(self, file: io.BytesIO, hook: Hook) -> None:
        super().__init__(file)
        self._hook = hook

    def persistent_load(self, pid: Any) -> Any:
        return self._hook(pid)


class Decoder:
    """Decode batches made by :class:`Encoder`.

    Safe to share between threads.

    Args:
        decode_hook: Called with each substitute that the encode hook produced;
            returns the rebuilt object.
        strict: the msgpack-only wire: a pickled payload is refused (it
            becomes an ``UndecodablePayload``) without being loaded.

    Example:
        >>> from rayka.cluster._wire_encode import Encoder
        >>> data = Encoder().encode_batch(StreamId("n", 1), 0, [("/user/c", "/user/d", 2, {"k": (1, 2)}, 9)])
        >>> Decoder().decode_batch(data)
        (StreamId(node='n', incarnation=1), 0, [['/user/c', '/user/d', 2, {'k': (1, 2)}, 9]])
    """

    def __init__(self, *, decode_hook: Hook | None = None, strict: bool = False) -> None:
        self._hook = decode_hook
        self.strict = strict

    def _make_ext_hook(self, failures: list[BaseException]) -> Callable[[int, bytes], Any]:
        hook = self._hook
        strict = self.strict
        unpackb = msgpack.unpackb
        depth = [0]  # nested decodes under way (one hook per decode call: no sharing between threads)

        def nested(data: bytes) -> Any:
            if depth[0] >= MAX_NESTING:
                raise SerializationError(f"a payload nested deeper than {MAX_NESTING} levels of tuples or objects")
            depth[0] += 1
            try:
                return unpackb(data, ext_hook=ext_hook, strict_map_key=False)
            finally:
                depth[0] -= 1

        def ext_hook(code: int, data: bytes) -> Any:
            try:
                if code == _EXT_TUPLE:
                    return tuple(nested(data))
                if code == _EXT_NAMED:
                    return from_wire(nested(data))
                if code == _EXT_ERROR:
                    return error_from_wire(nested(data))
                if code == _EXT_PICKLE:
                    if strict:
                        raise SerializationError(_REFUSED)
                    if hook is None:
                        return pickle.loads(data)
                    return _HookUnpickler(io.BytesIO(data), hook).load()
                if code == _EXT_HOOK:
                    substitute = nested(data)
                    if hook is None:
                        raise SerializationError("a hooked object arrived but this decoder has no decode_hook")
                    return hook(substitute)
                raise SerializationError(f"unknown msgpack ext type {code}")
            except Exception as exc:
                failures.append(exc)
                return None

        return ext_hook

    def decode_record(self, data: bytes) -> list[Any]:
        """Decode one record made by :meth:`Encoder.encode_record` (what a stream still held)."""
        failures: list[BaseException] = []
        record = msgpack.unpackb(data, ext_hook=self._make_ext_hook(failures), strict_map_key=False)
        if record[2] < 0:
            record[2], record[3] = ~record[2], tuple(record[3])
        if failures:
            record[3] = UndecodablePayload(failures[0])
        return record

    def decode_value(self, data: bytes) -> Any:
        """Decode what :meth:`Encoder.encode_value` made.

        Raises:
            SerializationError: it cannot be rebuilt here (the cause is chained).
        """
        try:
            payload = self.decode_record(data)[3]
        except Exception as error:
            raise SerializationError(f"not an encoded value ({type(error).__name__}: {error})") from error
        if type(payload) is UndecodablePayload:
            if isinstance(payload.error, SerializationError):
                raise payload.error
            raise SerializationError(str(payload.error)) from payload.error
        return payload

    def decode_batch(self, data: bytes) -> tuple[StreamId, int, list[list[Any]]]:
        """Decode one batch.

        Args:
            data: Bytes from :meth:`Encoder.join_batch`.

        Returns:
            ``(stream_id, first_seq, records)``; record ``i`` has sequence
            number ``first_seq + i`` and is a list
            ``[target, sender, kind, payload, reply_id]``.

        Raises:
            MalformedBatch: The bytes are not a batch of this wire version.
        """
        body = _check_frame(data)
        failures: list[BaseException] = []
        try:
            batch = msgpack.unpackb(body, ext_hook=self._make_ext_hook(failures), strict_map_key=False)
        except Exception as exc:
            raise _malformed(body, f"not a msgpack batch ({type(exc).__name__}: {exc})") from exc
        stream_id, first_seq, records = _check_header(batch)
        try:
            for record in records:
                if type(record) is not list or len(record) != 5:
                    raise ValueError(f"a record must be a list of 5, got {record!r:.80}")
                kind = record[2]
                if kind < 0:
                    record[2] = ~kind
                    record[3] = tuple(record[3])
        except Exception as exc:
            raise MalformedBatch(
                f"malformed batch {first_seq} of {stream_id}: bad record: {exc}",
                stream_id=stream_id,
                first_seq=first_seq,
                count=len(records),
            ) from exc
        if failures:
            self._mark_undecodable(body, records)
        return stream_id, first_seq, records

    def _mark_undecodable(self, data: memoryview, records: list[list[Any]]) -> None:
        """Decode record by record to find the ones whose payload failed."""
        failures: list[BaseException] = []
        unpacker = msgpack.Unpacker(
            ext_hook=self._make_ext_hook(failures), strict_map_key=False, max_buffer_size=len(data)
        )
        unpacker.feed(data)
        unpacker.read_array_header()
        for _ in range(3):
            unpacker.skip()
        unpacker.read_array_header()
        for record in records:
            seen = len(failures)
            unpacker.unpack()
            if len(failures) > seen:
                record[3] = UndecodablePayload(failures[seen])


def _check_frame(data: Any) -> memoryview:
    """Check the frame header and checksum; return the msgpack body."""
    try:
        view = memoryview(data).cast("B")
    except TypeError as exc:
        raise MalformedBatch(f"malformed batch: expected bytes, got {type(data).__name__}") from exc
    if len(view) < _FRAME_HEADER or view[:2] != _MAGIC:
        raise MalformedBatch(f"malformed batch: {len(view)} bytes that do not start like a rayka batch")
    if view[2] != WIRE_VERSION:
        raise MalformedBatch(
            f"malformed batch: wire version {view[2]} is not supported (this node speaks {WIRE_VERSION})"
        )
    body = view[_FRAME_HEADER:]
    if zlib.crc32(body) != int.from_bytes(view[3:_FRAME_HEADER], "big"):
        raise MalformedBatch(f"malformed batch: checksum mismatch over {len(body)} bytes (damaged or truncated)")
    return body


def _check_header(batch: Any) -> tuple[StreamId, int, list[Any]]:
    if type(batch) is not list or len(batch) != 4:
        raise MalformedBatch(f"malformed batch: expected a list of 4, got {type(batch).__name__}")
    node, incarnation, first_seq, records = batch
    if type(node) is not str or type(incarnation) is not int:
        raise MalformedBatch(f"malformed batch: bad stream id ({node!r:.40}, {incarnation!r:.40})")
    stream_id = StreamId(node, incarnation)
    if type(first_seq) is not int or first_seq < 0:
        raise MalformedBatch(
            f"malformed batch of {stream_id}: bad first sequence number {first_seq!r:.40}", stream_id=stream_id
        )
    if type(records) is not list:
        raise MalformedBatch(
            f"malformed batch {first_seq} of {stream_id}: records are a {type(records).__name__}, not a list",
            stream_id=stream_id,
            first_seq=first_seq,
        )
    return stream_id, first_seq, records


def _malformed(data: Any, reason: str) -> MalformedBatch:
    """Build a MalformedBatch, keeping the header when it can still be read."""
    try:
        unpacker = msgpack.Unpacker(strict_map_key=False, max_buffer_size=len(data))
        unpacker.feed(data)
        if unpacker.read_array_header() == 4:
            node, incarnation, first_seq = unpacker.unpack(), unpacker.unpack(), unpacker.unpack()
            count = unpacker.read_array_header()
            if type(node) is str and type(incarnation) is int and type(first_seq) is int and first_seq >= 0:
                return MalformedBatch(
                    f"malformed batch {first_seq} of {StreamId(node, incarnation)}: {reason}",
                    stream_id=StreamId(node, incarnation),
                    first_seq=first_seq,
                    count=count,
                )
    except Exception:  # noqa: S110 - the header is a best-effort extra
        pass
    return MalformedBatch(f"malformed batch: {reason}")
