"""ActorPool: map work over a set of actors from a thread, with a bound on what is in flight (Ray's ActorPool).

Give it the refs (or a :class:`Pool`'s ref: its routees are used) and map
items over them: each item becomes one ask (``fn(ref, item)``, by default
``ref.ask(item)``) to an actor that has fewer than ``in_flight`` asks
outstanding, so a slow actor gets less and nothing queues up unbounded.
``map`` yields results in item order, ``map_unordered`` as they come.
"""

from __future__ import annotations

import functools
import queue
from collections import deque
from typing import Any, Callable, Iterable, Iterator

from .._errors import AskTimeout
from ..actors import ActorRef, Reply
from ._routers import GetRoutees

__all__ = ["ActorPool"]

_Submit = Callable[[ActorRef, Any], Reply[Any]]


class ActorPool:
    """Map items over actors, at most ``in_flight`` asks outstanding per actor.

    Args:
        actors: the refs to use, or the ref of a :class:`Pool` (its routees are asked for once).
        in_flight: asks outstanding per actor (2 keeps an actor busy while its next item travels).

    Example:
        >>> import rayka
        >>> from rayka.patterns import ActorPool, Pool
        >>> class Square(rayka.Actor):
        ...     def receive(self, n):
        ...         return n * n
        >>> with rayka.ActorSystem("doc") as system:
        ...     pool = ActorPool(system.spawn(Pool, Square, 3))
        ...     list(pool.map(None, range(6)))
        [0, 1, 4, 9, 16, 25]
    """

    def __init__(self, actors: ActorRef | Iterable[ActorRef], *, in_flight: int = 2) -> None:
        if isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
            raise ValueError(f"ActorPool in_flight must be an int >= 1, got {in_flight!r}")
        if isinstance(actors, ActorRef):
            refs = tuple(actors.ask(GetRoutees(), timeout=30).result())
        else:
            refs = tuple(actors)
        if not refs or not all(isinstance(ref, ActorRef) for ref in refs):
            raise ValueError(f"ActorPool needs at least one ActorRef (or a Pool's ref), got {refs!r}")
        self.actors = refs
        self.in_flight = in_flight

    def map(self, fn: _Submit | None, items: Iterable[Any], *, timeout: float | None = None) -> Iterator[Any]:
        """Results in the order of ``items``; an item's error is raised when its turn comes.

        Args:
            fn: ``fn(ref, item)`` returns the item's :class:`Reply` (``lambda a, v: a.proxy().work(v)``);
                ``None`` asks ``ref.ask(item)``.
            timeout: seconds to wait for each next result at most (``AskTimeout`` past it).
        """
        waiting: dict[int, Reply[Any]] = {}
        following = 0
        for index, reply in self._run(fn, items, timeout):
            waiting[index] = reply
            while following in waiting:
                yield waiting.pop(following).result()
                following += 1

    def map_unordered(self, fn: _Submit | None, items: Iterable[Any], *,
                      timeout: float | None = None) -> Iterator[Any]:
        """Results as they come; an item's error is raised when it comes."""
        for _, reply in self._run(fn, items, timeout):
            yield reply.result()

    def _run(self, fn: _Submit | None, items: Iterable[Any], timeout: float | None) -> Iterator[tuple[int, Reply]]:
        submit = fn if fn is not None else _ask
        free: deque[ActorRef] = deque(ref for _ in range(self.in_flight) for ref in self.actors)
        finished: queue.SimpleQueue[tuple[int, ActorRef, Reply[Any]]] = queue.SimpleQueue()
        todo = enumerate(items)
        outstanding = 0

        def send() -> int:
            sent = 0
            while free:
                try:
                    index, item = next(todo)
                except StopIteration:
                    break
                ref = free.popleft()
                reply = submit(ref, item)
                if not isinstance(reply, Reply):
                    raise TypeError(f"ActorPool: fn must return a Reply (from ask or a proxy call), got {reply!r}")
                # through a future: it also resolves at the ask's deadline when nobody looks at the reply
                reply.future().add_done_callback(functools.partial(_report, finished, (index, ref, reply)))
                sent += 1
            return sent

        outstanding += send()
        while outstanding:
            try:
                index, ref, reply = finished.get(timeout=timeout)
            except queue.Empty:
                raise AskTimeout(f"ActorPool: no result within {timeout} s ({outstanding} asks outstanding)") from None
            outstanding -= 1
            free.append(ref)
            outstanding += send()
            yield index, reply


def _report(finished: queue.SimpleQueue, entry: tuple, _: object) -> None:
    finished.put(entry)


def _ask(ref: ActorRef, item: Any) -> Reply[Any]:
    return ref.ask(item, timeout=None)
