"""Turn events and snapshots into bytes for a journal, and back.

msgpack carries what it can (None, bool, int, float, str, bytes, list, dict);
tuples travel as a msgpack extension so they come back as tuples, and
anything else (dataclasses, enums, subclasses of builtins, closures) goes
through cloudpickle inside another extension.
"""

from __future__ import annotations

from typing import Any

import cloudpickle
import msgpack

__all__ = ["decode", "encode"]

_TUPLE = 1
_PICKLE = 2


def _default(obj: Any) -> msgpack.ExtType:
    if type(obj) is tuple:
        return msgpack.ExtType(_TUPLE, encode(list(obj)))
    return msgpack.ExtType(_PICKLE, cloudpickle.dumps(obj))


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _TUPLE:
        return tuple(decode(data))
    if code == _PICKLE:
        return cloudpickle.loads(data)
    return msgpack.ExtType(code, data)


def encode(obj: Any) -> bytes:
    """Serialize ``obj`` to bytes: msgpack where it can, cloudpickle for the rest.

    Args:
        obj: Any value; builtins keep their exact type (tuples stay tuples).

    Returns:
        The bytes to hand to :meth:`SqliteJournal.append`.

    Example:
        >>> decode(encode(("add", 5)))
        ('add', 5)
    """
    return msgpack.packb(obj, use_bin_type=True, strict_types=True, default=_default)


def decode(data: bytes) -> Any:
    """Rebuild the value that :func:`encode` turned into ``data``.

    Args:
        data: Bytes produced by :func:`encode`.

    Returns:
        The original value.

    Example:
        >>> decode(encode({"n": [1, 2.5, None, b"x"]}))
        {'n': [1, 2.5, None, b'x']}
    """
    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook)
