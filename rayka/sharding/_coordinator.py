"""The shard coordinator: one per entity type, on the driver (embedded: in the one process).

It decides where each shard runs: on first use, on the hosting region with
the fewest shards; when regions join, it moves shards from the busiest to
the least busy, at most ``max_moves`` at a time (Akka's least-shard
allocation); when a node is drained, it moves all of that node's shards;
when a region dies with its node, its shards are started elsewhere on their
next message (at once, with remember-entities). A move is a hand-off: every
region stops routing the shard and fences the old home (so everything it
sent there arrives first), the old home stops the shard's entities once idle,
and only then does the shard start on its new home. Two incarnations of an
entity never run at once: a shard runs in one region at a time, and a lost
node is fenced (killed) by membership before its regions are declared gone.
"""

from __future__ import annotations

import threading
from typing import Any

from ..actors import Actor, ActorRef
from ..patterns._reply import refuse, take_reply
from ._messages import (
    BeginHandOff, DrainRegion, EntityChanged, FenceWaived, GetHome, GetRegions, HandOff, HomeIs, Register,
    RegionGone, ShardStopped, StartEntities,
)
from ._start import Settings, spread

__all__ = ["Coordinator"]


class _Rebalance:
    __slots__ = ()


class _RegionDown:
    __slots__ = ("region",)

    def __init__(self, region: ActorRef) -> None:
        self.region = region


class Coordinator(Actor):
    """Allocates the shards of one entity type to regions (see the module docstring)."""

    def __init__(self, remember: bool, rebalance_interval: float = 1.0, max_moves: int = 3) -> None:
        self.remember = remember
        self.rebalance_interval = rebalance_interval
        self.max_moves = max_moves
        self.regions: dict[ActorRef, tuple[str, bool]] = {}  # region -> (node, hosts shards)
        self.alloc: dict[int, ActorRef] = {}
        self.moving: dict[int, tuple[ActorRef, tuple]] = {}  # shard -> (old home, regions that fence it)
        self.waiting: dict[int, list[ActorRef]] = {}  # shards nobody can run yet -> regions that asked
        self.leaving: set[ActorRef] = set()
        self.drains: list[tuple[set, Any]] = []
        self.remembered: dict[int, set] = {}
        self.handoffs = 0  # shards moved and started on their new home (kept here: regions come and go)

    def on_start(self) -> None:
        self.context.schedule_repeatedly(self.rebalance_interval, _Rebalance())

    def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is GetHome:
            self.get_home(message.shard, message.region)
        elif kind is ShardStopped:
            if self.moving.pop(message.shard, None) is not None:
                self.handoffs += 1
                self.place(message.shard)
            self.check_drains()
            if not self.moving:
                self.rebalance()  # the next round at once, not at the next tick
        elif kind is Register:
            self.regions[message.region] = (message.node, message.hosts)
            self.context.watch_with(message.region, _RegionDown(message.region))
            if message.hosts:
                for shard in list(self.waiting):
                    if shard not in self.moving:  # a moving shard is placed when its old home stopped it
                        self.place(shard)
        elif kind is _RegionDown:
            self.region_down(message.region)
        elif kind is list and message[:1] == ["spread"]:  # started from a node: the other regions, from here
            try:
                settings, skip = Settings.from_message(message)
            except (TypeError, ValueError) as error:  # not what a node sends: refused, the coordinator goes on
                refuse(self.context, message, TypeError(
                    f"shard coordinator {self.context.self.path}: a spread request is the list a node's "
                    f"system.entities(...) sends ({error})"))
                return None
            threading.Thread(target=spread, args=(self.context.system, settings, self.context.self, skip),
                             daemon=True, name=f"rayka-entities-{settings.name}").start()  # spawns on nodes block
        elif kind is _Rebalance:
            self.rebalance()
        elif kind is EntityChanged:
            ids = self.remembered.setdefault(message.shard, set())
            (ids.add if message.active else ids.discard)(message.entity_id)
        elif kind is DrainRegion:
            regions = {r for r, (node, _) in self.regions.items() if node == message.node}
            self.leaving |= regions
            for shard in [shard for shard, home in self.alloc.items() if home in regions]:
                self.move(shard)
            self.drains.append((regions, take_reply(self.context)))
            self.check_drains()
        elif kind is GetRegions:
            counts = {region: 0 for region in self.regions}
            for home in self.alloc.values():
                counts[home] = counts.get(home, 0) + 1
            listed = [[region, node, hosts, counts[region]] for region, (node, hosts) in self.regions.items()]
            return [listed, self.handoffs]
        else:
            refuse(self.context, message, TypeError(f"shard coordinator {self.context.self.path} does not take "
                                                    f"{kind.__name__}"))
        return None

    def hosts(self) -> list[ActorRef]:
        return [region for region, (_, hosts) in self.regions.items() if hosts and region not in self.leaving]

    def least_loaded(self) -> ActorRef | None:
        counts = {region: 0 for region in self.hosts()}
        if not counts:
            return None
        for home in self.alloc.values():
            if home in counts:
                counts[home] += 1
        return min(counts, key=lambda region: counts[region])

    def get_home(self, shard: int, asker: ActorRef) -> None:
        home = self.alloc.get(shard)
        if home is not None:
            asker.tell(HomeIs(shard, home))
            return
        self.waiting.setdefault(shard, []).append(asker)
        if shard not in self.moving:
            self.place(shard)

    def place(self, shard: int) -> None:
        """Start ``shard`` on the least loaded region and tell every region (a region that asked, too)."""
        if shard in self.moving or shard in self.alloc:  # never two homes: it runs, or its old home still stops it
            return
        home = self.least_loaded()
        if home is None:
            self.waiting.setdefault(shard, [])  # placed when a hosting region registers
            return
        self.alloc[shard] = home
        told = set()
        for region in [*self.regions, *self.waiting.pop(shard, ())]:
            if region not in told:
                told.add(region)
                region.tell(HomeIs(shard, home))
        remembered = self.remembered.get(shard)
        if self.remember and remembered:
            home.tell(StartEntities(shard, tuple(remembered)))

    def move(self, shard: int) -> None:
        """Hand ``shard`` off its home; it starts elsewhere once the old home reports it stopped."""
        old = self.alloc.pop(shard)
        regions = tuple(self.regions)
        self.moving[shard] = (old, regions)
        for region in regions:
            region.tell(BeginHandOff(shard, old))
        old.tell(HandOff(shard, regions))

    def rebalance(self) -> None:
        if self.moving:
            return
        hosts = self.hosts()
        if len(hosts) < 2:
            return
        shards: dict[ActorRef, list[int]] = {region: [] for region in hosts}
        for shard, home in sorted(self.alloc.items()):
            if home in shards:
                shards[home].append(shard)
        busiest = max(hosts, key=lambda region: len(shards[region]))
        idlest = min(hosts, key=lambda region: len(shards[region]))
        gap = len(shards[busiest]) - len(shards[idlest])
        if gap >= 2:
            for shard in shards[busiest][:min(self.max_moves, gap // 2)]:
                self.move(shard)

    def region_down(self, region: ActorRef) -> None:
        """A region died with its node (fenced first by membership): its shards start elsewhere."""
        self.regions.pop(region, None)
        self.leaving.discard(region)
        lost = [shard for shard, home in self.alloc.items() if home == region]
        for shard in lost:
            del self.alloc[shard]
        for other in self.regions:
            other.tell(RegionGone(region))
        for shard, (old, fencing) in list(self.moving.items()):
            if old == region:
                del self.moving[shard]
                lost.append(shard)
            elif region in fencing:
                old.tell(FenceWaived(shard, region))
        for shard in lost:
            if shard in self.waiting or (self.remember and self.remembered.get(shard)):
                self.place(shard)
        self.check_drains()

    def check_drains(self) -> None:
        for entry in list(self.drains):
            regions, reply = entry
            busy = any(home in regions for home in self.alloc.values()) or any(
                old in regions for old, _ in self.moving.values())
            if not busy:
                self.drains.remove(entry)
                if reply is not None:
                    reply.set_result(True)
