"""Turn events and snapshots into bytes for a journal, and back.

msgpack carries what it can (None, bool, int, float, str, bytes, list, dict);
tuples travel as a msgpack extension so they come back as tuples, and
anything else (dataclasses, enums, subclasses of builtins, closures) goes
through cloudpickle inside another extension.
"""

from __future__ import annotations

from typing import Any

from rayka import _values

__all__ = ["decode", "encode"]


def encode(obj: Any) -> bytes:
    """Serialize ``obj`` to bytes: msgpack where it can, cloudpickle for the rest.

    The same rule as messages on the wire (:mod:`rayka._values`): tuples nest at
    most ``MAX_NESTING`` (64) levels, so every stored event can be read back.

    Args:
        obj: Any value; builtins keep their exact type (tuples stay tuples).

    Returns:
        The bytes to hand to a journal's ``append``.

    Raises:
        SerializationError: ``obj`` nests tuples too deep, or cannot be pickled.

    Example:
        >>> decode(encode(("add", 5)))
        ('add', 5)
    """
    return _values.pack(obj)


def decode(data: bytes) -> Any:
    """Rebuild the value that :func:`encode` turned into ``data``.

    Args:
        data: Bytes produced by :func:`encode`.

    Returns:
        The original value.

    Raises:
        SerializationError: The bytes are damaged or not such a value (the cause is chained).

    Example:
        >>> decode(encode({"n": [1, 2.5, None, b"x"]}))
        {'n': [1, 2.5, None, b'x']}
    """
    return _values.unpack(data)
