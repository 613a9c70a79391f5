"""Record kinds on the wire, and the wire codes of lifecycle directives.

A record is ``[target, sender, kind, payload, reply_id]``. Kinds and directive
codes are part of the wire format: they change only with ``WIRE_VERSION``.
The core's own op numbers never travel: :data:`DIRECTIVE_CODES` maps them.
"""

from __future__ import annotations

from ..actors.spi import Op

__all__ = ["Kind", "DIRECTIVE_CODES", "DIRECTIVE_OPS"]


class Kind:
    """Record kinds: plain ints (msgpack packs them natively; an ``IntEnum`` would take the slow path)."""

    TELL = 0
    ASK = 1
    REPLY_OK = 2
    REPLY_ERROR = 3
    STOP = 4
    WATCH = 5
    TERMINATED = 6
    DIRECTIVE = 7  # payload [code, uid, error]: a parent's directive to its child on this node
    CHILD_FAILED = 8  # payload [child_path, uid, error]: a child on this node failed
    CHILD_GONE = 9  # payload [child_path, uid, error]: a child on this node terminated
    SPAWN = 10  # payload [blob, parent_path, parent_uid, uid]: host a child of a parent on the sender's node
    DEAD_LETTER = 11  # payload [reason, message]: a node's dead letter, for the driver's view of the cluster


# directive wire codes (payload[0] of a DIRECTIVE record)
DIRECTIVE_CODES = {Op.RESUME: 1, Op.RESTART: 2, Op.STOP: 3, Op.STOP_FAILED: 4}
DIRECTIVE_OPS = {code: int(op) for op, code in DIRECTIVE_CODES.items()}
