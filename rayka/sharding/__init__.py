"""Sharded entities (virtual actors): millions of stateful actors addressed by id, spread over the nodes.

``entities = system.entities(Cart, name="cart")`` starts them; ``entities.ref("alice")``
is an :class:`~rayka.ActorRef` that reaches the one live incarnation of entity
``"alice"``, started as ``Cart("alice", *args, **kwargs)`` on its first message,
wherever its shard runs. The same call works embedded (one process runs every
shard) and on a cluster (shards spread over the node runtimes and follow them as
nodes join and leave). See :mod:`rayka.sharding._coordinator` for how shards
move and :mod:`rayka.sharding._region` for how messages reach entities.

Example:
    >>> import rayka
    >>> class Cart(rayka.Actor):
    ...     def __init__(self, owner):
    ...         self.owner, self.items = owner, []
    ...     def receive(self, item):
    ...         self.items.append(item)
    ...         return f"{self.owner}: {self.items}"
    >>> with rayka.ActorSystem("doc") as system:
    ...     carts = system.entities(Cart, name="cart")
    ...     carts.ref("alice").tell("tea")
    ...     print(carts.ref("alice").ask("cake").result(timeout=5))
    alice: ['tea', 'cake']
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .._errors import ActorNotFound, InvalidActorName, RaykaError
from ..actors import ActorRef, Restart
from ._coordinator import Coordinator as _Coordinator
from ._messages import GetRegions as _GetRegions, GetStats as _GetStats
from ._refs import persistence_id
from ._refs import entity_ref as _entity_ref, region_for as _region_for, wait_for_region as _wait_for_region
from ._start import Settings as _Settings, spawn_region as _spawn_region, spread as _spread

__all__ = ["Entities", "EntityStatistics", "persistence_id", "start_entities"]

_lock = threading.Lock()
_started: dict[tuple[int, str], Entities] = {}


@dataclass(frozen=True)
class EntityStatistics:
    """What ``entities.statistics()`` returns: shards per node, and counters summed over the live regions.

    ``handoffs`` counts the shards moved (from the coordinator, so a node that left still counts);
    ``activations`` and ``passivations`` are those of the regions that run now; ``buffered``: messages
    waiting for their shard's home or for their entity to finish stopping.
    """

    shards_per_node: dict = field(default_factory=dict)
    active: int = 0
    activations: int = 0
    passivations: int = 0
    handoffs: int = 0
    buffered: int = 0


class Entities:
    """The entities of one type: ``ref(id)`` to reach one, ``statistics()`` to watch them."""

    def __init__(self, system: Any, name: str, shards: int, coordinator: ActorRef | None) -> None:
        self.system = system
        self.name = name
        self.shards = shards
        self.coordinator = coordinator  # None in a node runtime: only the driver asks it

    def ref(self, entity_id: Any) -> ActorRef:
        """The ref of entity ``entity_id`` (a str or an int): it works from anywhere and inside messages."""
        if type(entity_id) not in (str, int):
            raise TypeError(f"entities {self.name!r}: an entity id is a str or an int, not "
                            f"{type(entity_id).__name__} {entity_id!r}")
        return _entity_ref(self.name, entity_id)

    def statistics(self, timeout: float = 30.0) -> EntityStatistics:
        """Shards per node, active entities, activations, passivations, hand-offs, messages waiting (blocks)."""
        if self.coordinator is None:
            raise RaykaError(f"entities {self.name!r}: read statistics() from the driver")
        regions, handoffs = self.coordinator.ask(_GetRegions(), timeout=timeout).result()
        parts = [region.ask(_GetStats(), timeout=timeout) for region, _, _, _ in regions]
        per_node: dict[str, int] = {}
        totals = dict(active=0, activations=0, passivations=0, buffered=0)
        for (_, node, hosts, shards), reply in zip(regions, parts):
            stats = reply.result()
            if hosts:
                per_node[node] = per_node.get(node, 0) + shards
            for key in totals:
                totals[key] += getattr(stats, key)
        return EntityStatistics(per_node, handoffs=handoffs, **totals)

    def __repr__(self) -> str:
        return f"<Entities {self.name!r} shards={self.shards}>"


def start_entities(system: Any, cls: type, args: tuple, kwargs: dict, *, name: str, shards: int,
                   passivate_after: float | None, remember: bool) -> Entities:
    """Start the entities ``name`` of ``cls`` in ``system`` (or return them, if they run already)."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"entities need a name: a non-empty str without '/', got {name!r}")
    if not (isinstance(shards, int) and shards > 0):
        raise ValueError(f"entities {name!r}: shards must be a positive int, got {shards!r}")
    if passivate_after is not None and not passivate_after > 0:
        raise ValueError(f"entities {name!r}: passivate_after must be seconds > 0 or None, got {passivate_after!r}")
    with _lock:
        known = _started.get((id(system), name))
        if known is not None and known.system is system:  # not a shut-down system's whose id was reused
            return known
        settings = _Settings(name, cls, tuple(args), dict(kwargs), shards, passivate_after, remember)
        cluster = system.cluster
        if cluster is not None and not hasattr(cluster, "add_node"):  # inside a node runtime
            entities = _start_from_node(system, settings, cluster.node_id)
        else:
            entities = _start(system, settings)
        _started[(id(system), name)] = entities
        return entities


def _start(system: Any, settings: _Settings) -> Entities:
    """Embedded, or on the driver: the coordinator here, and every region."""
    cluster = system.cluster
    if cluster is not None:
        try:
            running = system.lookup(settings.base)
        except ActorNotFound:
            pass
        else:  # started from a node: join them (the coordinator starts this region soon)
            return Entities(system, settings.name, _joined_shards(settings), running)
    here = {"node": "driver"} if cluster is not None else {}
    coordinator = system.spawn(_Coordinator, settings.remember, name=settings.base, restart=Restart.TEMPORARY,
                               **here)
    if cluster is None:
        _spawn_region(system, settings, coordinator, "local", True, here=True)
    else:
        _spread(system, settings, coordinator, None)
    return Entities(system, settings.name, settings.shards, coordinator)


def _joined_shards(settings: _Settings, wait: float = 10.0) -> int:
    """The shard count of entities started elsewhere, once the coordinator's spread registered their region here."""
    held = _wait_for_region(settings.name, wait)
    return held[2] if held is not None else settings.shards


def _start_from_node(system: Any, settings: _Settings, node: str) -> Entities:
    """Inside a node runtime: join the entities if they run here; else start them (see ``_start``'s module)."""
    held = _region_for(settings.name)
    if held is None:
        try:
            coordinator = system.spawn(_Coordinator, settings.remember, name=settings.base,
                                       restart=Restart.TEMPORARY, node="driver")
        except InvalidActorName:  # started already, from the driver or another node: this node's region comes
            return Entities(system, settings.name, settings.shards, None)
        try:
            _spawn_region(system, settings, coordinator, node, True, here=True)
        except InvalidActorName:  # the driver started this node's region meanwhile
            pass
        coordinator.tell(settings.as_message(node))
        held = _region_for(settings.name)
    return Entities(system, settings.name, held[2] if held is not None else settings.shards, None)
