"""A shard region: one per process of the entity type; routes entity messages, and runs shards where it hosts.

Every message to an entity enters the region of the sender's process and
goes, in order, to the region that runs the entity's shard (asking the
coordinator once where that is), which starts the entity on its first
message and hands it the message. While a shard moves, its messages wait
here, in arrival order, and follow it once it runs elsewhere. The region is
the only way into an entity's mailbox, so it knows when an entity is idle:
that is when it may be passivated or handed off without losing a message.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from itertools import islice
from threading import get_ident
from typing import Any
from urllib.parse import quote

from .._errors import ActorStopped, RaykaError, SystemClosed
from ..actors import Actor, ActorRef, DeadLetter
from ..actors.spi import cell_of, loop_of
from ..patterns._reply import deliver, refuse, take_reply
from ._messages import (
    BeginHandOff, Deliver, EntityChanged, Fence, FenceWaived, GetHome, GetStats, HandOff, HomeIs, Passivate,
    Register, RegionGone, RegionStats, ShardStopped, StartEntities,
)
from ._refs import register_region, shard_of, unregister_region

__all__ = ["Region"]

_log = logging.getLogger("rayka.sharding")

TICK = 0.05  # seconds between looks at idle entities (passivation, hand-off)


class _Tick:
    __slots__ = ()


class _Ended:
    __slots__ = ("entity_id",)

    def __init__(self, entity_id: Any) -> None:
        self.entity_id = entity_id


_TICK = _Tick()


class Region(Actor):
    """The entities of one type in one process (see the module docstring)."""

    # A turn empties the mailbox (up to this many): tells from actors on this thread are routed inline only
    # while it is empty, so a region that drained 100 at a time would keep them on the slow path.
    throughput = 1_000
    me: ActorRef  # this region's own ref, set when it starts (compared with on every message)
    cell: Any  # its cell (its mailbox's length and its state are read by takes_inline), and its loop's thread:
    loop_thread: int

    def __init__(self, name: str, cls: type, args: tuple, kwargs: dict, shards: int, coordinator: ActorRef,
                 node: str, hosts: bool, passivate_after: float | None, remember: bool) -> None:
        self.type_name, self.cls, self.args, self.kwargs = name, cls, tuple(args), dict(kwargs)
        self.shards, self.coordinator, self.node, self.hosts = shards, coordinator, node, hosts
        self.passivate_after, self.remember = passivate_after, remember
        self.homes: dict[int, ActorRef] = {}
        # shard -> [(entity id, message, sender, reply)] until its home is known (the coordinator was asked once)
        self.buffers: dict[int, list[tuple]] = {}
        self.local: dict[int, set] = {}  # shards run here -> their active entity ids
        self.entities: dict[Any, ActorRef] = {}
        self.sent: dict[Any, int] = {}  # messages handed to each entity (its mailbox's processed count catches up)
        # entity id -> its last message, oldest first (kept only to passivate: ~0.1 KiB an entity)
        self.last: OrderedDict[Any, float] | None = OrderedDict() if passivate_after is not None else None
        self.stopping: dict[Any, list] = {}  # entity id -> what arrived for it while it stops
        self.fences: dict[int, set] = {}
        self.handing: dict[int, set] = {}  # shard -> regions whose fence the hand-off waits for
        self.draining: set[int] = set()  # shards being handed off: their entities stop once idle
        self.retiring: set = set()  # entities to stop once idle (see stop_entity)
        self.activations = self.passivations = 0
        self.activating = False  # an entity's constructor runs (it may tell entities: those take the mailbox)
        self.failed_start: BaseException | None = None  # why the last activation failed

    def on_start(self) -> None:
        me = self.me = self.context.self
        system = self.context.system
        self.cell, self.loop_thread = cell_of(me), loop_of(system)[1]
        register_region(self.type_name, system, me, self.shards, self)
        self.coordinator.tell(Register(me, self.node, self.hosts))
        self.context.schedule_repeatedly(TICK, _TICK)

    def on_stop(self) -> None:
        unregister_region(self.type_name, self.me)

    def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Deliver:
            context = self.context
            self.route(message[0], message[1], context.sender, take_reply(context), message)
        elif kind is _Tick:
            self.tick()
        elif kind is _Ended:
            self.ended(message.entity_id)
        elif kind is HomeIs:
            self.home_is(message.shard, message.region)
        elif kind is BeginHandOff:
            self.homes.pop(message.shard, None)  # its messages wait here from now on ...
            message.old.tell(Fence(message.shard, self.me))  # ... after the ones already sent there
        elif kind is Fence:
            self.fences.setdefault(message.shard, set()).add(message.region)
            self.check_handoff(message.shard)
        elif kind is FenceWaived:
            self.handing.get(message.shard, set()).discard(message.region)
            self.check_handoff(message.shard)
        elif kind is HandOff:
            self.handing[message.shard] = set(message.regions)
            self.check_handoff(message.shard)
        elif kind is RegionGone:
            for shard in [shard for shard, home in self.homes.items() if home == message.region]:
                del self.homes[shard]  # its next message asks where the shard runs now
        elif kind is StartEntities:
            if self.homes.get(message.shard) == self.me:
                for entity_id in message.entity_ids:
                    if entity_id not in self.entities and entity_id not in self.stopping:
                        self.activate(message.shard, entity_id)
        elif kind is Passivate:
            self.passivate(message.entity_id)
        elif kind is GetStats:
            waiting = sum(map(len, self.buffers.values())) + sum(map(len, self.stopping.values()))
            return RegionStats(self.node, len(self.local), len(self.entities), self.activations, self.passivations,
                               waiting)
        else:
            refuse(self.context, message, TypeError(
                f"region {self.context.self.path} of entities {self.type_name!r} takes entity messages through "
                f"entities.ref(id), not {kind.__name__}"))
        return None

    # -- routing ---------------------------------------------------------------------
    def takes_inline(self) -> bool:
        """Whether a tell from the calling thread may be routed right away, skipping this region's mailbox.

        Only on the thread that runs this region (so never during one of its turns, which run to their end,
        except while an entity's constructor runs in ``activate``), and only while nothing waits in its
        mailbox: then every message sent here earlier has been routed already (delivered, forwarded on the
        stream to the shard's home, or buffered), and routing this one now keeps each sender's order.
        """
        cell = self.cell
        return get_ident() == self.loop_thread and not self.activating and not len(cell.mailbox) and not cell.state

    def route(self, entity_id: Any, message: Any, sender: ActorRef | None, reply: Any,
              envelope: Deliver | None = None) -> None:
        shard = shard_of(entity_id, self.shards)
        home = self.homes.get(shard)
        if home is None and shard in self.local and shard not in self.draining:
            # This is the shard's old home and its hand-off began here: a region that has not fenced us yet
            # sent this before its fence, so it goes to the entity here (buffered, it could overtake the
            # messages its sender sent later, straight to the new home). After every fence: buffered.
            self.deliver_here(shard, entity_id, message, sender, reply)
        elif home is None:
            waiting = self.buffers.get(shard)
            if waiting is None:  # the first to wait: ask where the shard runs
                waiting = self.buffers[shard] = []
                self.coordinator.tell(GetHome(shard, self.me))
            waiting.append((entity_id, message, sender, reply))
        elif home is self.me:  # home_is keeps this region's own ref object for itself
            self.deliver_here(shard, entity_id, message, sender, reply)
        else:
            deliver(home, envelope if envelope is not None else Deliver(entity_id, message), sender, reply)

    def home_is(self, shard: int, region: ActorRef) -> None:
        if region == self.me:
            region = self.me
            self.local.setdefault(shard, set())
        self.homes[shard] = region
        for entity_id, message, sender, reply in self.buffers.pop(shard, ()):
            self.route(entity_id, message, sender, reply)

    def deliver_here(self, shard: int, entity_id: Any, message: Any, sender: ActorRef | None, reply: Any) -> None:
        waiting = self.stopping.get(entity_id)
        if waiting is not None:
            waiting.append((message, sender, reply))
            return
        entity = self.entities.get(entity_id)
        if entity is None:
            entity = self.activate(shard, entity_id)
            if entity is None:  # its constructor failed: this message fails, the next one tries again
                self.not_started(entity_id, message, sender, reply)
                return
        self.sent[entity_id] += 1
        last = self.last
        if last is not None:
            last[entity_id] = time.monotonic()
            last.move_to_end(entity_id)
        deliver(entity, message, sender, reply)

    # -- entity lifecycle ----------------------------------------------------------------
    def activate(self, shard: int, entity_id: Any) -> ActorRef | None:
        """Start an entity; ``None`` (logged, kept for :meth:`not_started`) when its constructor raises."""
        context = self.context
        self.activating = True
        try:
            text = str(entity_id)  # its child name: quoted, unless plainly safe (quote costs ~15% of a start)
            entity: ActorRef = context.spawn(self.cls, entity_id, *self.args,
                                             name="e" + (text if text.isascii() and text.isalnum() else
                                                         quote(text, safe="")), **self.kwargs)
        except Exception as error:  # noqa: BLE001 - one entity that cannot start must not take the region down
            self.failed_start = error
            if isinstance(error, (SystemClosed, ActorStopped)):  # the system or this region is stopping
                return None
            _log.error("rayka: entities %r: entity %r could not start (%s: %s); its messages fail until it can",
                       self.type_name, entity_id, type(error).__name__, error)
            return None
        finally:
            self.activating = False
        context.watch_with(entity, _Ended(entity_id))
        self.entities[entity_id] = entity
        self.sent[entity_id] = 0
        if self.last is not None:
            self.last[entity_id] = time.monotonic()
        self.local.setdefault(shard, set()).add(entity_id)
        self.activations += 1
        if self.remember:
            self.coordinator.tell(EntityChanged(shard, entity_id, True))
        return entity

    def not_started(self, entity_id: Any, message: Any, sender: ActorRef | None, reply: Any) -> None:
        """A message for an entity whose constructor failed: an ask fails with the reason, a tell is a dead letter."""
        error = self.failed_start
        failure = RaykaError(f"entity {entity_id!r} of entities {self.type_name!r} could not start: "
                             f"{type(error).__name__}: {error}; fix what its constructor needs, then send again")
        failure.__cause__ = error
        if reply is not None:
            reply.set_exception(failure)
        self.context.system.dead_letters.publish(
            DeadLetter(message, sender, f"/entities/{self.type_name}/{entity_id}", "failed to start"))

    def idle(self, entity_id: Any) -> bool:
        stats = self.entities[entity_id].statistics()
        return stats.queued == 0 and stats.processed >= self.sent[entity_id]

    def stop_entity(self, entity_id: Any) -> None:
        """Stop an entity once it handled what it was handed; what arrives meanwhile waits for the next one.

        A stop overtakes the messages in a mailbox, so a busy entity is only marked here (``retiring``)
        and stopped by a later tick, once idle.
        """
        self.stopping[entity_id] = []
        if self.idle(entity_id):
            self.entities[entity_id].stop()
        else:
            self.retiring.add(entity_id)

    def passivate(self, entity_id: Any) -> None:
        if entity_id in self.entities and entity_id not in self.stopping:
            self.stop_entity(entity_id)
            self.passivations += 1
            if self.remember:
                self.coordinator.tell(EntityChanged(shard_of(entity_id, self.shards), entity_id, False))

    def ended(self, entity_id: Any) -> None:
        """An entity terminated (passivated, handed off, or stopped itself): what waited for it goes on."""
        self.entities.pop(entity_id, None)
        self.sent.pop(entity_id, None)
        self.retiring.discard(entity_id)
        if self.last is not None:
            self.last.pop(entity_id, None)
        shard = shard_of(entity_id, self.shards)
        self.local.get(shard, set()).discard(entity_id)
        for message, sender, reply in self.stopping.pop(entity_id, ()):
            self.route(entity_id, message, sender, reply)  # here again (a new incarnation), or after its shard
        if shard in self.draining and not self.local.get(shard):
            self.draining.discard(shard)
            self.local.pop(shard, None)
            self.coordinator.tell(ShardStopped(shard, self.me))

    def tick(self) -> None:
        """Stop the idle entities of shards being handed off, and passivate the long idle ones.

        Work is bounded by what there is to stop: ``last`` is kept oldest first, so the scan ends at the
        first entity that was busy recently (a region with a third of a million entities must not walk
        them all every tick).
        """
        for entity_id in [entity_id for entity_id in self.retiring if self.idle(entity_id)]:
            self.retiring.discard(entity_id)
            self.entities[entity_id].stop()
        for shard in self.draining:
            for entity_id in list(self.local.get(shard, ())):
                if entity_id not in self.stopping:
                    self.stop_entity(entity_id)  # at once if idle, else once it is (retiring)
        limit, last = self.passivate_after, self.last
        if limit is None or last is None:
            return
        cutoff = time.monotonic() - limit
        for entity_id, seen in list(islice(last.items(), 1000)):
            if seen > cutoff:
                break
            if entity_id in self.stopping:
                continue
            if self.idle(entity_id):
                self.passivate(entity_id)
            else:
                last.move_to_end(entity_id)  # still working: look again after the others

    # -- hand-off: this region is the shard's old home -------------------------------------
    def check_handoff(self, shard: int) -> None:
        waiting = self.handing.get(shard)
        if waiting is None or not waiting <= self.fences.get(shard, set()):
            return
        del self.handing[shard]
        self.fences.pop(shard, None)
        if not self.local.get(shard):
            self.local.pop(shard, None)
            self.coordinator.tell(ShardStopped(shard, self.me))
            return
        self.draining.add(shard)
        self.tick()
