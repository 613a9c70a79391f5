"""Encode messages into records and records into batches (see :mod:`rayka.cluster._wire_format`)."""

from __future__ import annotations

import io
import sys
import threading
import zlib
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import cloudpickle
import msgpack
from msgpack import ExtType

from rayka._errors import SerializationError
from rayka._values import PickleFailed, TooDeep
from rayka.cluster._named import NotByName, wire_form
from rayka.cluster._wire_format import (
    _EXT_ERROR,
    _EXT_HOOK,
    _EXT_NAMED,
    _EXT_PICKLE,
    _EXT_TUPLE,
    _MAGIC,
    _PICKLE_PROTOCOL,
    MAX_NESTING,
    WIRE_VERSION,
    Hook,
    StreamId,
)

__all__ = ["Encoder"]

_FRAME_PREFIX = _MAGIC + bytes((WIRE_VERSION,))


class _HookPickler(cloudpickle.Pickler):
    """A cloudpickle pickler that hands hooked objects to ``persistent_id``."""

    def __init__(self, file: io.BytesIO, hook: Hook) -> None:
        super().__init__(file, protocol=_PICKLE_PROTOCOL)
        self._hook = hook

    def persistent_id(self, obj: Any) -> Any:
        return self._hook(obj)


class Encoder:
    """Encode records one at a time and join them into batches.

    Safe to share between threads.

    Args:
        encode_hook: Called with each object msgpack cannot carry; returns an
            encodable substitute, or ``None`` to let cloudpickle handle it.
        strict: the msgpack-only wire: never pickle; registered types travel
            by name, anything else is refused with ``SerializationError``.

    Example:
        >>> from rayka.cluster._wire_decode import Decoder
        >>> enc = Encoder()
        >>> rec = enc.encode_record("/user/c", None, 0, ("add", 5))
        >>> data = enc.join_batch(StreamId("n", 1), 7, [rec])
        >>> Decoder().decode_batch(data)[2]
        [['/user/c', None, 0, ('add', 5), None]]
    """

    def __init__(self, *, encode_hook: Hook | None = None, strict: bool = False) -> None:
        self._hook = encode_hook
        self.strict = strict
        self._pool: list[msgpack.Packer] = []
        self._depth = threading.local()
        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        self._fast = msgpack.Packer(strict_types=True, buf_size=4096).pack if gil else None

    def _packer(self) -> msgpack.Packer:
        return msgpack.Packer(default=self._default, strict_types=True, buf_size=1024)

    def _pack(self, obj: Any) -> bytes:
        """Pack ``obj`` with a pooled packer (re-entrant: nested calls get their own)."""
        pool = self._pool
        try:
            packer = pool.pop()
        except IndexError:
            packer = self._packer()
        try:
            return packer.pack(obj)
        finally:
            pool.append(packer)

    def _nested(self, code: int, obj: Any) -> ExtType:
        """Pack ``obj`` as ext ``code`` one level deeper, refusing past MAX_NESTING."""
        local = self._depth
        depth = getattr(local, "n", 0)
        if depth >= MAX_NESTING:
            raise TooDeep()
        local.n = depth + 1
        try:
            return ExtType(code, self._pack(obj))
        finally:
            local.n = depth

    def _default(self, obj: Any) -> Any:
        if type(obj) is tuple:
            return self._nested(_EXT_TUPLE, list(obj))
        hook = self._hook
        if hook is not None:
            substitute = hook(obj)
            if substitute is not None:
                return self._nested(_EXT_HOOK, substitute)
        if self.strict:
            is_error, form = wire_form(obj)
            if not is_error:
                return self._nested(_EXT_NAMED, form)
            try:
                return self._nested(_EXT_ERROR, form)
            except NotByName:  # args that are not plain data: the message stands in for them
                return self._nested(_EXT_ERROR, [form[0], None, form[2]])
        try:
            return ExtType(_EXT_PICKLE, self._dumps(obj))
        except Exception as exc:
            raise PickleFailed(obj) from exc

    def _dumps(self, obj: Any) -> bytes:
        if self._hook is None:
            return cloudpickle.dumps(obj, protocol=_PICKLE_PROTOCOL)
        buffer = io.BytesIO()
        _HookPickler(buffer, self._hook).dump(obj)
        return buffer.getvalue()

    def encode_record(
        self, target: Any, sender: Any, kind: int, payload: Any, reply_id: int | None = None
    ) -> bytes:
        """Encode one message as a record, ready for :meth:`join_batch`.

        Args:
            target: The receiving actor's path or id (str or int).
            sender: The sending actor's path, or ``None``.
            kind: A non-negative int chosen by the transport.
            payload: The message.
            reply_id: The id of the ask awaiting a reply, or ``None``.

        Returns:
            The record's bytes.

        Raises:
            SerializationError: The payload cannot be serialized; the
                underlying error is in ``__cause__``.
            ValueError: ``kind`` is negative.
        """
        if kind < 0:
            raise ValueError(f"record kind must be a non-negative int, got {kind!r}")
        fast = self._fast
        if fast is not None:
            # Plain data only: a packer without ``default`` runs no Python code,
            # so under the GIL one packer serves every thread. Anything else
            # (nested tuples, objects, huge ints) raises and takes the slow path.
            try:
                if type(payload) is tuple:
                    return fast([target, sender, ~kind, [*payload], reply_id])
                return fast([target, sender, kind, payload, reply_id])
            except Exception:  # noqa: S110 - retried below with the full packer
                pass
        pool = self._pool
        try:
            packer = pool.pop()
        except IndexError:
            packer = self._packer()
        try:
            if type(payload) is tuple:
                return packer.pack([target, sender, ~kind, [*payload], reply_id])
            return packer.pack([target, sender, kind, payload, reply_id])
        except PickleFailed as exc:
            raise _serialization_error(target, payload, exc.__cause__, exc.args[0]) from exc.__cause__
        except TooDeep:
            raise _too_deep(target, payload, f"{MAX_NESTING} levels of tuples or objects") from None
        except NotByName as exc:
            raise _not_by_name(target, payload, exc.args[0]) from None
        except Exception as exc:
            if self.strict:
                raise _serialization_error(target, payload, exc) from exc
            # msgpack itself refused (an int over 64 bits, a cycle, nesting over
            # its depth limit, a str with lone surrogates): pickle the whole payload.
            return self._encode_pickled(target, sender, kind, payload, reply_id)
        finally:
            pool.append(packer)

    def _encode_pickled(
        self, target: Any, sender: Any, kind: int, payload: Any, reply_id: int | None
    ) -> bytes:
        try:
            pickled = ExtType(_EXT_PICKLE, self._dumps(payload))
            return self._pack([target, sender, kind, pickled, reply_id])
        except PickleFailed as exc:
            raise _serialization_error(target, payload, exc.__cause__, exc.args[0]) from exc.__cause__
        except Exception as exc:
            raise _serialization_error(target, payload, exc) from exc

    def encode_value(self, value: Any) -> bytes:
        """Encode one value by this encoder's rules (a spawn's class and arguments).

        Raises:
            SerializationError: the value cannot travel.
        """
        return self.encode_record(None, None, 0, value)

    def join_batch(self, stream_id: StreamId, first_seq: int, records: Sequence[bytes]) -> bytes:
        """Join encoded records into one batch.

        Args:
            stream_id: The sending stream.
            first_seq: Sequence number of ``records[0]``; the others follow on.
            records: Records from :meth:`encode_record`.

        Returns:
            The batch's bytes, for :meth:`Decoder.decode_batch`.
        """
        node, incarnation = stream_id
        header = self._pack([node, incarnation, first_seq])
        # Turn the 3-element header (always a fixarray, 0x93) into a
        # 4-element one (0x94) whose last element is the records array.
        head = b"\x94" + header[1:] + _array_header(len(records))
        body = b"".join(chain((head,), records))
        return b"".join((_FRAME_PREFIX, zlib.crc32(body).to_bytes(4, "big"), body))

    def encode_batch(
        self, stream_id: StreamId, first_seq: int, records: Iterable[Sequence[Any]]
    ) -> bytes:
        """Encode ``(target, sender, kind, payload, reply_id)`` records into one batch.

        Raises:
            SerializationError: A payload cannot be serialized.
        """
        encode = self.encode_record
        return self.join_batch(stream_id, first_seq, [encode(*record) for record in records])


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def _type_name(obj: Any) -> str:
    kind = type(obj)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _too_deep(target: Any, payload: Any, limit: str) -> SerializationError:
    return SerializationError(
        f"cannot send a message of type {_type_name(payload)} to {target!r} on another node: it is nested deeper "
        f"than {limit}; flatten it (a list of rows, ids instead of nested objects)"
    )


def _not_by_name(target: Any, payload: Any, part: Any) -> SerializationError:
    named = part if isinstance(part, type) or (callable(part) and hasattr(part, "__qualname__")) else type(part)
    module, qualname = getattr(named, "__module__", ""), getattr(named, "__qualname__", repr(named))
    inside = "" if part is payload else f" (it holds {qualname if named is part else 'a ' + qualname})"
    if "<lambda>" in qualname or "<locals>" in qualname:
        fix = f"{qualname} has no name to travel by: use a module-level one, registered with @rayka.cluster.register"
    elif module == "__main__":
        register = "" if isinstance(part, type) and hasattr(part, "receive") else " and register it"  # not actors
        fix = f"{qualname} is defined in __main__, which the node runtimes cannot import: move it to a module{register}"
    elif named is int:
        fix = "an int beyond 64 bits has no msgpack form: send str(n) or bytes"
    elif module == "builtins":
        fix = f"a {qualname} has no msgpack form: send a list, tuple or dict instead"
    else:
        fix = (f"decorate {module}.{qualname} with @rayka.cluster.register (a dataclass, named tuple, enum or "
               "function in an importable module)")
    subject = (f"a message of type {_type_name(payload)} to {target!r} on another node{inside}" if target is not None
               else f"{qualname if named is part else 'a ' + qualname} to another node")
    return SerializationError(
        f"cannot send {subject}: RayCluster(wire='msgpack') carries only plain data (None, bool, int, float, str, "
        f"bytes, list, tuple, dict), rayka refs and registered types; {fix}"
    )


def _serialization_error(
    target: Any, payload: Any, cause: BaseException | None, part: Any = None
) -> SerializationError:
    inside = "" if part is None or part is payload else f" (it holds a {_type_name(part)} that cannot travel)"
    return SerializationError(
        f"cannot serialize a message of type {_type_name(payload)} for {target!r} on another node{inside}: "
        f"{cause}. Send plain data (None, bool, int, float, str, bytes, list, tuple, dict) or picklable "
        "objects such as frozen dataclasses; keep locks, sockets, open files, generators and "
        "other live resources inside the actor that owns them."
    )
