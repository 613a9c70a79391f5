"""Refs to entities: an ``ActorRef`` whose cell routes through this process's region of the entity type.

An entity ref names ``(entities name, entity id)``, never a place: it is the
same ref on every node, compares equal everywhere, and travels in messages as
that pair (rebuilt on the receiving side against its own region).
"""

from __future__ import annotations

import threading
import zlib
from typing import Any

from .._errors import RaykaError
from ..actors import ActorRef, Reply
from ..actors.spi import cell_of
from ._messages import Deliver, Passivate

__all__ = [
    "EntityCell", "entity_of", "entity_ref", "persistence_id", "register_region", "shard_of", "region_for",
    "wait_for_region",
]

_lock = threading.Lock()
_registered = threading.Condition(_lock)  # notified whenever a region is registered (wait_for_region)
# entities name -> (system, region, shards, the Region itself once it started) in this process
_regions: dict[str, tuple[Any, ActorRef, int, Any]] = {}


def shard_of(entity_id: Any, shards: int) -> int:
    """The shard of an entity id: stable across processes (Python's ``hash`` of a str is not)."""
    return zlib.crc32(repr(entity_id).encode()) % shards


def persistence_id(name: str, entity_id: Any) -> str:
    """The persistence id of entity ``entity_id`` of the entities ``name``: ``"cart|alice"`` (an int id: ``"cart|#7"``).

    What a :class:`~rayka.patterns.PersistentActor` entity gets when it passes no persistence id
    (Akka's ``PersistenceId.of(typeName, entityId)`` has the same shape).
    """
    return f"{name}|#{entity_id}" if type(entity_id) is int else f"{name}|{entity_id}"


def entity_of(actor: Any) -> tuple[str, Any] | None:
    """``(entities name, entity id)`` of an actor that a region started as an entity (else ``None``).

    Usable from the actor's constructor: an entity's parent is its region, and the id is its
    constructor's first argument (kept by its cell for restarts).
    """
    from ._region import Region  # here: the region module imports this one

    cell = cell_of(actor.context.self)
    region = getattr(getattr(cell, "parent_cell", None), "instance", None)
    args = getattr(cell, "args", None)
    if not isinstance(region, Region) or not args:
        return None
    return region.type_name, args[0]


def register_region(name: str, system: Any, region: ActorRef, shards: int, actor: Any = None) -> None:
    """Make ``region`` the one this process routes entities of ``name`` through (``actor``: the Region, started)."""
    with _lock:
        held = _regions.get(name)
        if actor is None and held is not None and held[3] is not None and held[1] == region:
            return  # the region registered itself first (its on_start ran before its spawn returned): keep that
        _regions[name] = (system, region, shards, actor)
        _registered.notify_all()


def unregister_region(name: str, region: ActorRef) -> None:
    with _lock:
        held = _regions.get(name)
        if held is not None and held[1] == region:
            del _regions[name]


def wait_for_region(name: str, timeout: float) -> tuple[Any, ActorRef, int, Any] | None:
    """The region of ``name`` in this process, once one is registered (``None`` after ``timeout`` seconds)."""
    with _registered:
        _registered.wait_for(lambda: name in _regions, timeout)
        return _regions.get(name)


def region_for(name: str) -> tuple[Any, ActorRef, int, Any] | None:
    return _regions.get(name)


def entity_ref(name: str, entity_id: Any) -> ActorRef:
    """The ref of entity ``entity_id`` of the entities called ``name`` (usable once they run in this process)."""
    return ActorRef(EntityCell(name, entity_id))  # type: ignore[arg-type]


class EntityCell:
    """Stands in for an entity's cell: every message goes to this process's region, which finds the entity."""

    __slots__ = ("entity",)

    def __init__(self, name: str, entity_id: Any) -> None:
        self.entity = (name, entity_id)

    def _route(self) -> ActorRef:
        held = _regions.get(self.entity[0])
        if held is None or not held[1].is_alive:
            raise RaykaError(f"entities {self.entity[0]!r} are not running in this process: start them with "
                             f"system.entities(cls, name={self.entity[0]!r}) (from the driver on a cluster)")
        return held[1]

    def tell(self, message: Any, sender: ActorRef | None = None) -> None:
        held = _regions.get(self.entity[0])
        region = held[3] if held is not None else None
        if region is not None and region.takes_inline():  # on the region's own thread, nothing queued: route here
            region.route(self.entity[1], message, sender, None)
        else:
            self._route().tell(Deliver(self.entity[1], message), sender)

    def ask(self, message: Any, timeout: float | None) -> Reply[Any]:
        return self._route().ask(Deliver(self.entity[1], message), timeout=timeout)

    def send(self, message: Any, sender: ActorRef | None = None) -> Reply[None]:
        return self._route().send(Deliver(self.entity[1], message), sender)

    def request_stop(self) -> None:
        """Passivate the entity: it stops; its next message starts it again."""
        self._route().tell(Passivate(self.entity[1]))

    def statistics(self) -> Any:
        raise RaykaError(f"entity {self.path} is virtual: read entities.statistics(), or ask it")

    @property
    def path(self) -> str:
        return f"/entities/{self.entity[0]}/{self.entity[1]}"

    @property
    def name(self) -> str:
        return str(self.entity[1])

    uid = 0
    terminated = False  # an entity is never gone: its next message activates it

    @property
    def key(self) -> tuple:
        return ("entity", *self.entity)

    @property
    def system(self) -> Any:
        held = region_for(self.entity[0])
        return held[0] if held is not None else None

    def reduce_ref(self) -> tuple:
        return (entity_ref, self.entity)
