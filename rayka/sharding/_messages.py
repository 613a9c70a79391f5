"""The messages of sharded entities: between refs, regions and the coordinator (all plain, registered types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ..actors import ActorRef

__all__ = [
    "BeginHandOff", "Deliver", "DrainRegion", "EntityChanged", "Fence", "FenceWaived", "GetHome", "GetRegions",
    "GetStats", "HandOff", "HomeIs", "Passivate", "Register", "RegionGone", "RegionStats", "ShardStopped",
    "StartEntities",
]


class Deliver(NamedTuple):
    """A message for entity ``entity_id``, on its way through the regions (a named tuple: built per message)."""

    entity_id: Any
    message: Any


@dataclass(frozen=True, slots=True)
class Passivate:
    """Stop entity ``entity_id`` (a message arriving meanwhile starts it again)."""

    entity_id: Any


@dataclass(frozen=True, slots=True)
class Register:
    """A region introduces itself to the coordinator; ``hosts``: it runs shards (the driver's only routes)."""

    region: ActorRef
    node: str
    hosts: bool


@dataclass(frozen=True, slots=True)
class GetHome:
    """Which region runs ``shard``? (The coordinator allocates it if nobody does.)"""

    shard: int
    region: ActorRef


@dataclass(frozen=True, slots=True)
class HomeIs:
    """``shard`` runs in ``region`` now: route there, flush what was buffered."""

    shard: int
    region: ActorRef


@dataclass(frozen=True, slots=True)
class BeginHandOff:
    """``shard`` is moving away from ``old``: buffer its messages, and fence ``old``."""

    shard: int
    old: ActorRef


@dataclass(frozen=True, slots=True)
class Fence:
    """Sent by ``region`` to a shard's old home after its last message for that shard (same stream)."""

    shard: int
    region: ActorRef


@dataclass(frozen=True, slots=True)
class FenceWaived:
    """``region`` died during a hand-off: do not wait for its fence."""

    shard: int
    region: ActorRef


@dataclass(frozen=True, slots=True)
class HandOff:
    """To a shard's old home: once every region in ``regions`` fenced you, stop its entities."""

    shard: int
    regions: tuple


@dataclass(frozen=True, slots=True)
class ShardStopped:
    """A shard's old home stopped its entities: the coordinator may start it elsewhere."""

    shard: int
    region: ActorRef


@dataclass(frozen=True, slots=True)
class RegionGone:
    """``region`` died with its node: forget the shards it ran."""

    region: ActorRef


@dataclass(frozen=True, slots=True)
class StartEntities:
    """Remember-entities: start these entities of ``shard`` now, not on their next message."""

    shard: int
    entity_ids: tuple


@dataclass(frozen=True, slots=True)
class EntityChanged:
    """Remember-entities: a region tells the coordinator ``entity_id`` started (``active``) or was passivated."""

    shard: int
    entity_id: Any
    active: bool


@dataclass(frozen=True, slots=True)
class DrainRegion:
    """Move every shard off the regions on ``node`` (it is being removed); answered when done."""

    node: str


@dataclass(frozen=True, slots=True)
class GetRegions:
    """The coordinator's regions, with the shards each runs."""


@dataclass(frozen=True, slots=True)
class GetStats:
    """A region's counters."""


@dataclass(frozen=True, slots=True)
class RegionStats:
    """One region's counters, as ``entities.statistics()`` adds them up."""

    node: str
    shards: int
    active: int
    activations: int
    passivations: int
    buffered: int
