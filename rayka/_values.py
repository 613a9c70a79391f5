"""The one rule for turning values into msgpack bytes, shared by the journal and the wire.

msgpack carries what it can natively (``None``, ``bool``, ``int`` within 64
bits, ``float``, ``str``, ``bytes``, ``list``, ``dict``). A tuple travels as
ext type :data:`EXT_TUPLE` holding a msgpack array, so it comes back a tuple;
anything else (dataclasses, enums, sets, subclasses of builtins) travels as
ext type :data:`EXT_PICKLE` holding cloudpickle bytes. A value msgpack itself
refuses (an int over 64 bits, a cycle, lists nested past msgpack's limit) is
pickled whole.

Every ext level is a nested decode, and a few hundred of them overflow the C
stack of the process that reads them; so tuples (and the wire's hooked
objects) nest at most :data:`MAX_NESTING` levels. Deeper values are refused
when they are written, with :class:`~rayka._errors.SerializationError`, and a
deeper value that is read anyway raises it too: never a crash.
"""

from __future__ import annotations

import threading
from typing import Any

import cloudpickle
import msgpack

from rayka._errors import SerializationError

__all__ = [
    "EXT_ERROR", "EXT_HOOK", "EXT_NAMED", "EXT_PICKLE", "EXT_TUPLE", "MAX_NESTING", "PICKLE_PROTOCOL", "PickleFailed",
    "TooDeep", "pack", "unpack",
]

MAX_NESTING = 64
"""Most levels of tuples (and hooked objects) inside one another in a message or an event."""

EXT_TUPLE, EXT_PICKLE, EXT_HOOK = 1, 2, 3
EXT_NAMED, EXT_ERROR = 4, 5  # the wire's by-name values and errors (cluster/_named.py)
PICKLE_PROTOCOL = 5


class TooDeep(Exception):
    """Carry "nested deeper than MAX_NESTING" out of msgpack's ``default`` callback (here and on the wire)."""


class PickleFailed(Exception):
    """Carry a pickling failure out of msgpack's ``default`` callback (here and on the wire)."""


class _State(threading.local):
    """Per thread: how deep the tuples being packed or unpacked nest, and idle packers to reuse."""

    def __init__(self) -> None:
        self.depth = 0
        self.packers: list[msgpack.Packer] = []


_state = _State()


def _packb(obj: Any) -> bytes:
    """``msgpack.packb`` with a reused packer (building one per call costs more than packing a small value)."""
    packers = _state.packers
    packer = packers.pop() if packers else msgpack.Packer(use_bin_type=True, strict_types=True, default=_default)
    data = packer.pack(obj)  # a packer that raised is dropped, not reused
    packers.append(packer)
    return data


def _nested(code: int, obj: Any) -> msgpack.ExtType:
    state = _state
    if state.depth >= MAX_NESTING:
        raise TooDeep()
    state.depth += 1
    try:
        return msgpack.ExtType(code, _packb(obj))
    finally:
        state.depth -= 1


def _default(obj: Any) -> msgpack.ExtType:
    if type(obj) is tuple:
        return _nested(EXT_TUPLE, list(obj))
    try:
        return msgpack.ExtType(EXT_PICKLE, cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL))
    except Exception as exc:
        raise PickleFailed(obj) from exc


def pack(obj: Any) -> bytes:
    """Turn ``obj`` into bytes by the rule above.

    Raises:
        SerializationError: ``obj`` nests tuples deeper than :data:`MAX_NESTING`,
            or holds something cloudpickle cannot pickle (the cause is chained).

    Example:
        >>> unpack(pack(("add", [1, (2, 3)], {"k": None})))
        ('add', [1, (2, 3)], {'k': None})
    """
    try:
        return _packb(obj)
    except TooDeep:
        raise SerializationError(
            f"a {type(obj).__name__} nested deeper than {MAX_NESTING} levels of tuples cannot be stored or sent "
            "(a reader would overflow its stack); flatten it, or use lists, which have no such limit"
        ) from None
    except PickleFailed as exc:
        raise SerializationError(
            f"cannot serialize a {type(exc.args[0]).__name__} inside a {type(obj).__name__}: {exc.__cause__!r}"
        ) from exc.__cause__
    except (ValueError, OverflowError, TypeError):
        try:  # msgpack refused (a huge int, a cycle, lists past its depth limit): pickle the whole value
            return msgpack.packb(msgpack.ExtType(EXT_PICKLE, cloudpickle.dumps(obj, protocol=PICKLE_PROTOCOL)))
        except Exception as exc:
            raise SerializationError(f"cannot serialize a {type(obj).__name__}: {exc!r}") from exc


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_TUPLE:
        state = _state
        if state.depth >= MAX_NESTING:
            raise SerializationError(f"a value nested deeper than {MAX_NESTING} levels of tuples")
        state.depth += 1
        try:
            return tuple(msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook))
        finally:
            state.depth -= 1
    if code == EXT_PICKLE:
        return cloudpickle.loads(data)
    raise SerializationError(f"unknown msgpack ext type {code}")


def unpack(data: bytes) -> Any:
    """Rebuild the value that :func:`pack` turned into ``data``.

    Raises:
        SerializationError: the bytes are not such a value (damaged, truncated,
            too deep, a class that cannot be imported here); the cause is chained.
    """
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(f"cannot decode a stored value of {len(data)} bytes: {exc!r}") from exc
