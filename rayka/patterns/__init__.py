"""Messaging patterns as actors: routers, topics, reliable and durable work queues.

What message queues and RPC give their users, in actor form, built only on
rayka's public API (``tell``, ``ask``, ``watch``, timers):

- **Routers**: :class:`Pool` (spawns, supervises and replaces N routees;
  resizable; ``placement="spread"`` spreads them over a cluster) and :class:`Group` (existing refs), with the logics
  :class:`RoundRobin`, :class:`Random`, :class:`SmallestMailbox`,
  :class:`ConsistentHashing` (per-key order), :class:`Broadcast` and
  :class:`ScatterGatherFirst`. Asks through a router are answered by the routee.
- **Mapping work**: :class:`ActorPool` maps items over actors from a thread,
  a bounded number in flight per actor (Ray's ``ActorPool``).
- **Topics**: :class:`Topics`, publish/subscribe by topic name, dead
  subscribers dropped, one relay per peer node.
- **Work queue**: :class:`WorkQueue` (bounded, work-pulling, acknowledged,
  redelivered on death or deadline, durable on a journal) and
  :class:`Consumer` / :class:`AsyncConsumer` to subclass.
- **Persistent actors**: :class:`PersistentActor`, event sourcing on a journal.

Example:
    >>> import rayka
    >>> from rayka.patterns import Pool, SmallestMailbox
    >>> class Double(rayka.Actor):
    ...     def receive(self, n):
    ...         return 2 * n
    >>> with rayka.ActorSystem("doc") as system:
    ...     pool = system.spawn(Pool, Double, 2, SmallestMailbox())
    ...     pool.ask(21).result(timeout=1)
    42
"""

from __future__ import annotations

from ._actor_pool import ActorPool
from ._consumer import AsyncConsumer, Consumer, SeenIds
from ._logic import (
    Broadcast,
    ConsistentHashing,
    Random,
    RoundRobin,
    RoutingLogic,
    ScatterGatherFirst,
    SmallestMailbox,
    stable_hash,
)
from ._persistent import PersistentActor
from ._queue_messages import (
    Ack,
    AckError,
    AckRejected,
    Deliveries,
    Delivery,
    GetQueueStatistics,
    GivenUp,
    Pull,
    Put,
    PutMany,
    PutRejected,
    QueueStatistics,
    Release,
)
from ._resizer import Resizer
from ._routers import AddRoutee, GetRoutees, Group, NoRoutees, Pool, RemoveRoutee, Resize, RouterMessage, ToAll
from ._topics import AddPeer, GetSubscribers, Publish, Subscribe, Topics, Unsubscribe
from ._workqueue import Drain, WorkQueue

__all__ = [
    "Ack",
    "AckError",
    "AckRejected",
    "ActorPool",
    "AddPeer",
    "AddRoutee",
    "AsyncConsumer",
    "Broadcast",
    "ConsistentHashing",
    "Consumer",
    "Deliveries",
    "Delivery",
    "Drain",
    "GetQueueStatistics",
    "GetRoutees",
    "GetSubscribers",
    "GivenUp",
    "Group",
    "NoRoutees",
    "PersistentActor",
    "Pool",
    "Publish",
    "Pull",
    "Put",
    "PutMany",
    "PutRejected",
    "QueueStatistics",
    "Random",
    "Release",
    "RemoveRoutee",
    "Resize",
    "Resizer",
    "RoundRobin",
    "RouterMessage",
    "RoutingLogic",
    "ScatterGatherFirst",
    "SeenIds",
    "SmallestMailbox",
    "Subscribe",
    "ToAll",
    "Topics",
    "Unsubscribe",
    "WorkQueue",
    "stable_hash",
]
