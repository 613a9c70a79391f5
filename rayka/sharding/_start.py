"""Starting entities: the coordinator, a region per process, and the membership hooks that follow nodes.

On the driver (or embedded) everything starts at once. From inside a node
runtime the coordinator is started on the driver (the downing authority's
process, where membership is followed), this node's region here, and the
coordinator is told to ``spread``: on the driver it starts the driver's
routing region and the regions of the other nodes, and hooks them to nodes
joining and leaving, as the driver's own start does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..actors import ActorRef, Restart
from ._messages import DrainRegion
from ._refs import register_region
from ._region import Region

__all__ = ["Settings", "spawn_region", "spread"]


@dataclass(frozen=True)
class Settings:
    """What ``system.entities(...)`` was given: every region of the type is started with it."""

    name: str
    cls: type
    args: tuple
    kwargs: dict
    shards: int
    passivate_after: float | None
    remember: bool

    @property
    def base(self) -> str:
        return f"rayka.entities.{self.name}"

    def as_message(self, skip: str) -> list:
        """The ``spread`` request a node sends the coordinator (a plain list: both wires carry it)."""
        return ["spread", self.name, self.cls, list(self.args), dict(self.kwargs), self.shards, self.passivate_after,
                self.remember, skip]

    @classmethod
    def from_message(cls, message: list) -> tuple[Settings, str]:
        """Read a ``spread`` request (``ValueError`` or ``TypeError`` when it is not one)."""
        _, name, entity_cls, args, kwargs, shards, passivate_after, remember, skip = message
        if not (isinstance(name, str) and isinstance(entity_cls, type) and isinstance(shards, int)
                and isinstance(skip, str)):
            raise ValueError(f"not a spread request: {message!r:.200}")
        return cls(name, entity_cls, tuple(args), dict(kwargs), shards, passivate_after, remember), skip


def spawn_region(system: Any, settings: Settings, coordinator: ActorRef, node: str, hosts: bool, *,
                 here: bool) -> ActorRef:
    """Start the region of ``node`` (``here``: in this process, whose refs route through it from now on)."""
    where = {"node": node} if system.cluster is not None else {}
    ref = system.spawn(Region, settings.name, settings.cls, settings.args, settings.kwargs, settings.shards,
                       coordinator, node, hosts, settings.passivate_after, settings.remember,
                       name=f"{settings.base}.{node}", restart=Restart.TEMPORARY, **where)
    if here:  # registered now, not once it started: a ref used at once must find it
        register_region(settings.name, system, ref, settings.shards)
    return ref


def spread(system: Any, settings: Settings, coordinator: ActorRef, skip: str | None) -> None:
    """On the driver: start the regions of the driver and of every live node but ``skip`` (it started its
    own), and keep one on each node that joins, draining a leaving node's shards first."""
    cluster = system.cluster
    lock = threading.Lock()
    started = {skip}

    def start(node: str, hosts: bool) -> None:
        with lock:
            if node in started:
                return
            started.add(node)
        spawn_region(system, settings, coordinator, node, hosts, here=node == "driver")

    cluster.on_node_added.append(lambda node: start(node, True))
    cluster.on_node_leaving.append(
        lambda node, timeout: coordinator.ask(DrainRegion(node), timeout=timeout).result())
    start("driver", False)  # the driver routes; node runtimes run the shards
    for node in cluster.live_nodes():
        start(node, True)
