"""Routing logics: which routee(s) a router sends a message to.

A logic is a frozen value (like a supervision strategy); a router calls its
``create()`` once to get a selector holding whatever state the rule needs
(a counter, a hash ring). ``selector.select(message, routees)`` returns the
chosen routee; logics that send to every routee say so with ``fan_out``.

Example:
    >>> selector = RoundRobin().create()
    >>> [selector.select("m", ["a", "b", "c"]) for _ in range(4)]
    ['a', 'b', 'c', 'a']
    >>> ring = ConsistentHashing(key=lambda message: message[0]).create()
    >>> ring.select(("user-7", 1), ["a", "b", "c"]) == ring.select(("user-7", 2), ["a", "b", "c"])
    True
"""

from __future__ import annotations

import bisect
import random as _random
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ._reply import mailbox_size

__all__ = [
    "Broadcast",
    "ConsistentHashing",
    "Random",
    "RoundRobin",
    "RoutingLogic",
    "ScatterGatherFirst",
    "SmallestMailbox",
    "stable_hash",
]


class RoutingLogic:
    """Base of the routing logics; ``fan_out`` logics send each message to every routee."""

    __slots__ = ()
    fan_out = False
    first_reply = False

    def create(self) -> Any:
        """Return a fresh selector with ``select(message, routees) -> routee``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class RoundRobin(RoutingLogic):
    """Each routee in turn."""

    def create(self) -> _RoundRobinSelector:
        return _RoundRobinSelector()


class _RoundRobinSelector:
    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next = 0

    def select(self, message: Any, routees: Sequence[Any]) -> Any:
        i = self.next
        if i >= len(routees):
            i = 0
        self.next = i + 1
        return routees[i]


@dataclass(frozen=True, slots=True)
class Random(RoutingLogic):
    """A routee picked uniformly at random (``seed`` makes the sequence repeatable)."""

    seed: int | None = None

    def create(self) -> _RandomSelector:
        return _RandomSelector(_random.Random(self.seed))


class _RandomSelector:
    __slots__ = ("rng",)

    def __init__(self, rng: _random.Random) -> None:
        self.rng = rng

    def select(self, message: Any, routees: Sequence[Any]) -> Any:
        return routees[self.rng.randrange(len(routees))]


@dataclass(frozen=True, slots=True)
class SmallestMailbox(RoutingLogic):
    """The routee with the fewest queued messages; ties go to each routee in turn.

    Routees whose mailbox cannot be seen from here (on another node) count as
    busier than any local one, as in Akka.
    """

    def create(self) -> _SmallestMailboxSelector:
        return _SmallestMailboxSelector()


class _SmallestMailboxSelector:
    __slots__ = ("start",)

    def __init__(self) -> None:
        self.start = 0

    def select(self, message: Any, routees: Sequence[Any]) -> Any:
        n = len(routees)
        start = self.start % n
        self.start = start + 1
        best, best_size = routees[start], None
        for k in range(n):
            routee = routees[(start + k) % n]
            size = mailbox_size(routee)
            if size is None:
                continue
            if size == 0:
                return routee
            if best_size is None or size < best_size:
                best, best_size = routee, size
        return best


def stable_hash(key: Any) -> int:
    """A hash of ``key`` that is the same in every process (unlike ``hash`` of a str).

    Ints hash to themselves (mixed), str and bytes by CRC-32, anything else by its ``repr``.
    """
    if isinstance(key, bool) or not isinstance(key, (int, str, bytes)):
        key = repr(key)
    if isinstance(key, int):
        return (key * 0x9E3779B1) & 0xFFFFFFFF
    if isinstance(key, str):
        key = key.encode("utf-8", "surrogatepass")
    return zlib.crc32(key)


@dataclass(frozen=True, slots=True)
class ConsistentHashing(RoutingLogic):
    """The routee that owns ``key(message)`` on a hash ring: one key, one routee, so per-key order holds.

    Args:
        key: the message's key (a user id, a partition key); messages with
            equal keys go to the same routee while the routees stay the same.
        virtual_nodes: points per routee on the ring; more spread keys more evenly.

    When a routee leaves, only its keys move; a pool's replacement takes
    the same name, and so the same keys, as the routee it replaces.
    """

    key: Callable[[Any], Any]
    virtual_nodes: int = 64

    def __post_init__(self) -> None:
        if not callable(self.key):
            raise TypeError(f"ConsistentHashing needs a callable key, got {self.key!r}")
        if self.virtual_nodes < 1:
            raise ValueError(f"virtual_nodes must be >= 1, got {self.virtual_nodes}")

    def create(self) -> _RingSelector:
        return _RingSelector(self.key, self.virtual_nodes)


class _RingSelector:
    __slots__ = ("key", "virtual_nodes", "members", "points", "owners")

    def __init__(self, key: Callable[[Any], Any], virtual_nodes: int) -> None:
        self.key = key
        self.virtual_nodes = virtual_nodes
        self.members: Sequence[Any] | None = None
        self.points: list[int] = []
        self.owners: list[Any] = []

    def _rebuild(self, routees: Sequence[Any]) -> None:
        ring = []
        for routee in routees:
            name = getattr(routee, "name", None) or str(routee)
            for v in range(self.virtual_nodes):
                ring.append((stable_hash(f"{name}#{v}"), name, routee))
        ring.sort(key=lambda point: point[:2])
        self.points = [point[0] for point in ring]
        self.owners = [point[2] for point in ring]
        self.members = routees

    def select(self, message: Any, routees: Sequence[Any]) -> Any:
        if routees is not self.members:  # routers replace their routee tuple whenever it changes
            self._rebuild(routees)
        i = bisect.bisect(self.points, stable_hash(self.key(message)))
        return self.owners[i if i < len(self.owners) else 0]


@dataclass(frozen=True, slots=True)
class Broadcast(RoutingLogic):
    """Every routee gets every message; an ask is answered with the list of all replies."""

    fan_out = True

    def create(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ScatterGatherFirst(RoutingLogic):
    """Ask every routee; the first reply answers (errors count only when every routee failed)."""

    fan_out = True
    first_reply = True

    def create(self) -> None:
        return None
