"""Routers: one ref in front of many routees, with a routing logic.

A :class:`Pool` spawns and supervises its routees (and replaces the ones
that die); a :class:`Group` routes to refs that exist already (and drops the
ones that die). Both watch their routees and never send to a dead one.
Messages keep their sender; an ask through a router is answered by the
routee, straight to the asker, while the router goes on routing.

Control messages, handled by the router itself: :class:`ToAll`,
:class:`GetRoutees`, :class:`AddRoutee` / :class:`RemoveRoutee` (groups),
:class:`Resize` (pools). Everything else is routed.

Example:
    >>> import rayka
    >>> from rayka.patterns import Pool, RoundRobin, GetRoutees
    >>> class Square(rayka.Actor):
    ...     def receive(self, n):
    ...         return n * n
    >>> with rayka.ActorSystem("doc") as system:
    ...     pool = system.spawn(Pool, Square, 3, RoundRobin(), name="squares")
    ...     [pool.ask(n).result(timeout=1) for n in range(4)]
    ...     len(pool.ask(GetRoutees()).result(timeout=1))
    [0, 1, 4, 9]
    3
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable

from .._errors import RaykaError
from ..actors import Actor, ActorRef, DeadLetter, OneForOne, Signal, Strategy, Terminated
from ._logic import RoundRobin, RoutingLogic
from ._reply import forward, mailbox_size, refuse, take_reply
from ._resizer import Resizer

__all__ = [
    "AddRoutee",
    "GetRoutees",
    "Group",
    "NoRoutees",
    "Pool",
    "RemoveRoutee",
    "Resize",
    "RouterMessage",
    "ToAll",
]

log = logging.getLogger("rayka.patterns")


class NoRoutees(RaykaError):
    """A router got a message while it had no live routee."""


class RouterMessage:
    """Base of the messages a router handles itself instead of routing."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ToAll(RouterMessage):
    """Send ``message`` to every routee, whatever the logic; an ask gets the list of replies."""

    message: Any


@dataclass(frozen=True, slots=True)
class GetRoutees(RouterMessage):
    """Ask for the current routees (a tuple of refs)."""


@dataclass(frozen=True, slots=True)
class AddRoutee(RouterMessage):
    """Add ``ref`` to a group (it is watched from then on)."""

    ref: ActorRef


@dataclass(frozen=True, slots=True)
class RemoveRoutee(RouterMessage):
    """Take ``ref`` out of a group (it keeps running)."""

    ref: ActorRef


@dataclass(frozen=True, slots=True)
class Resize(RouterMessage):
    """Grow or shrink a pool to ``size`` routees; answers the new size.

    Routees taken out finish what is already in their mailbox before they stop.
    """

    size: int

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 0:
            raise ValueError(f"Resize needs a size >= 0, got {self.size!r}")


@dataclass(frozen=True, slots=True)
class _Retire(RouterMessage):
    """A pool's own reminder to stop shrunk-away routees once their mailboxes are empty."""


class _Router(Actor):
    """What pools and groups share: routing, fan-out, and dropping dead routees."""

    def __init__(self, logic: RoutingLogic) -> None:
        if not isinstance(logic, RoutingLogic):
            raise TypeError(f"a router needs a routing logic such as RoundRobin(), got {logic!r}")
        self.logic = logic
        self.selector = logic.create()
        self.routees: tuple[ActorRef, ...] = ()  # replaced whole on every change (selectors rely on it)

    def receive(self, message: Any) -> Any:
        if isinstance(message, (RouterMessage, Signal)):
            return self._control(message)
        routees = self.routees
        if not routees:
            return self._no_routees(message)
        if self.logic.fan_out:
            return self._fan_out(message, routees, self.logic.first_reply)
        forward(self.context, self.selector.select(message, routees), message)
        return None

    # -- control ---------------------------------------------------------------
    def _control(self, message: Any) -> Any:
        if isinstance(message, Terminated):
            self._routee_terminated(message.ref)
        elif isinstance(message, GetRoutees):
            return self.routees
        elif isinstance(message, ToAll):
            if self.routees:
                return self._fan_out(message.message, self.routees, False)
            return self._no_routees(message.message)
        else:
            return self._command(message)
        return None

    def _command(self, message: Any) -> Any:
        return refuse(self.context, message, TypeError(
            f"{type(self).__name__} {self.context.self.path} does not handle {type(message).__name__}"))

    def _routee_terminated(self, ref: ActorRef) -> bool:
        if ref not in self.routees:
            return False
        self.routees = tuple(r for r in self.routees if r != ref)
        return True

    # -- delivery --------------------------------------------------------------
    def _no_routees(self, message: Any) -> None:
        context = self.context
        error = NoRoutees(f"router {context.self.path} has no live routees; {type(message).__name__} not delivered")
        reply = take_reply(context)
        if reply is not None:
            reply.set_exception(error)
        context.system.dead_letters.publish(DeadLetter(message, context.sender, context.self.path, "no routees"))

    def _fan_out(self, message: Any, routees: tuple[ActorRef, ...], first: bool) -> None:
        context = self.context
        sender = context.sender
        reply = take_reply(context)
        if reply is None and (not first or sender is None):
            for routee in routees:
                routee.tell(message, sender)
            return
        gather = _Gather(len(routees), first, reply, sender)
        for i, routee in enumerate(routees):
            routee.ask(message, timeout=None).add_done_callback(gather.callback(i))


class _Gather:
    """Collect the replies of a fan-out: the first good one, or all of them in routee order."""

    __slots__ = ("left", "first", "answered", "reply", "sender", "values", "error")

    def __init__(self, n: int, first: bool, reply: Any, sender: ActorRef | None) -> None:
        self.left = n
        self.first = first
        self.answered = False
        self.reply = reply
        self.sender = sender
        self.values: list[Any] = [None] * n
        self.error: BaseException | None = None

    def callback(self, i: int) -> Any:
        return lambda inner: self.done(i, inner)

    def done(self, i: int, inner: Any) -> None:
        self.left -= 1
        error = inner.exception(0)
        if error is not None:
            if self.error is None:
                self.error = error
        elif self.first:
            if not self.answered:
                self.answer(inner.result(0), None)
        else:
            self.values[i] = inner.result(0)
        if self.left == 0 and not self.answered:
            # all in: every routee failed (first reply), or the whole list (broadcast)
            self.answer(self.values, self.error)

    def answer(self, value: Any, error: BaseException | None) -> None:
        self.answered = True
        if self.reply is not None:
            if error is not None:
                self.reply.set_exception(error)
            else:
                self.reply.set_result(value)
        elif self.sender is not None and error is None:
            self.sender.tell(value)


class Group(_Router):
    """Route to refs that exist already; drop each one when it dies.

    Args:
        routees: the refs to route to (watched from the start).
        logic: the routing logic (round-robin by default).

    Example:
        >>> import rayka
        >>> from rayka.patterns import Group, Broadcast
        >>> from rayka.testing import TestProbe
        >>> with rayka.ActorSystem("doc") as system:
        ...     a, b = TestProbe(system), TestProbe(system)
        ...     group = system.spawn(Group, [a.ref, b.ref], Broadcast())
        ...     group.tell("news")
        ...     a.expect("news"), b.expect("news")
        ('news', 'news')
    """

    def __init__(self, routees: Iterable[ActorRef], logic: RoutingLogic = RoundRobin()) -> None:
        super().__init__(logic)
        self.initial = tuple(dict.fromkeys(routees))

    def on_start(self) -> None:
        for ref in self.initial:
            self._add(ref)

    def _add(self, ref: ActorRef) -> None:
        if ref not in self.routees:
            self.context.watch(ref)
            if ref.is_alive:
                self.routees = (*self.routees, ref)

    def _command(self, message: Any) -> Any:
        if isinstance(message, AddRoutee):
            self._add(message.ref)
            return len(self.routees)
        if isinstance(message, RemoveRoutee):
            if self._routee_terminated(message.ref):
                self.context.unwatch(message.ref)
            return len(self.routees)
        return super()._command(message)


class Pool(_Router):
    """Spawn ``size`` routees of ``routee`` as children, supervise them, replace the ones that die.

    Args:
        routee: the routees' actor class.
        size: how many routees to keep running (``Resize`` changes it).
        logic: the routing logic (round-robin by default).
        args, kwargs: the routees' constructor arguments.
        strategy: how failing routees are supervised (restart, by default:
            a restarted routee keeps its ref and its place).
        replace: start a new routee, under the same name, when one stops.
        resizer: a :class:`Resizer` to grow and shrink the pool with its
            load (``size`` is then only where it starts, within the bounds).
        placement: where the routees run, any ``node=`` of ``spawn``:
            ``"spread"`` puts each on the least loaded node runtime of a cluster
            (embedded: here). Not ``node``: ``spawn(Pool, ..., node=...)`` places the pool itself.

    A routee is replaced when it stops for any reason other than a resize.
    More than ``strategy.max_restarts`` replacements within ``strategy.within``
    seconds fail the pool itself (its parent decides), as an OTP supervisor
    past its restart intensity.
    """

    def __init__(self, routee: type[Actor], size: int, logic: RoutingLogic = RoundRobin(), *,
                 args: tuple = (), kwargs: dict | None = None, strategy: Strategy | None = None,
                 replace: bool = True, resizer: Resizer | None = None, placement: Any = None) -> None:
        super().__init__(logic)
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"Pool size must be an int >= 0, got {size!r}")
        if resizer is not None and not isinstance(resizer, Resizer):
            raise TypeError(f"Pool resizer must be a Resizer(...), got {resizer!r}")
        self.resizer = resizer
        self.routed = 0
        if resizer is not None:
            size = min(resizer.upper, max(resizer.lower, size))
        self.routee_class = routee
        self.size = size
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.supervisor_strategy = strategy if strategy is not None else OneForOne()
        self.replace = replace
        self.retiring: list[ActorRef] = []
        self.replacements: deque[float] = deque()
        self.retire_timer: Any = None
        self.placement = placement

    def on_start(self) -> None:
        self._grow()

    def receive(self, message: Any) -> Any:
        resizer = self.resizer
        if resizer is not None and not isinstance(message, (RouterMessage, Signal)):
            self.routed += 1
            if self.routed >= resizer.messages_per_resize:
                self.routed = 0
                self._autoresize(resizer)
        return super().receive(message)

    def _autoresize(self, resizer: Resizer) -> None:
        threshold = resizer.pressure_threshold
        known = [n for n in map(mailbox_size, self.routees) if n is not None]  # remote mailboxes are not seen
        if not known:
            return
        pressured = sum(1 for n in known if n >= threshold)
        change = resizer.proposed(len(known), pressured) - len(known)
        size = min(resizer.upper, max(resizer.lower, len(self.routees) + change))
        if size != len(self.routees):
            log.debug("rayka: pool %s resizes from %d to %d routees (%d under pressure)",
                      self.context.self.path, len(self.routees), size, pressured)
            self._command(Resize(size))

    def _grow(self) -> None:
        taken = {ref.name for ref in self.routees} | {ref.name for ref in self.retiring}
        k = 0
        while len(self.routees) < self.size:
            while f"routee-{k}" in taken:
                k += 1
            name = f"routee-{k}"
            taken.add(name)
            ref = self.context.spawn(self.routee_class, *self.args, name=name, node=self.placement, **self.kwargs)
            self.context.watch(ref)
            self.routees = (*self.routees, ref)

    def _command(self, message: Any) -> Any:
        if isinstance(message, Resize):
            self.size = message.size
            if len(self.routees) < self.size:
                self._grow()
            elif len(self.routees) > self.size:
                self.retiring.extend(self.routees[self.size:])
                self.routees = self.routees[: self.size]
                self._retire()
            return self.size
        if isinstance(message, _Retire):
            self.retire_timer = None
            self._retire()
            return None
        return super()._command(message)

    def _retire(self) -> None:
        busy = []
        for ref in self.retiring:
            if ref.is_alive and mailbox_size(ref):
                busy.append(ref)
            else:
                ref.stop()
        self.retiring = busy
        if busy and self.retire_timer is None:
            self.retire_timer = self.context.schedule_once(0.005, _Retire())

    def _routee_terminated(self, ref: ActorRef) -> bool:
        if not super()._routee_terminated(ref):
            return False
        if self.replace and len(self.routees) < self.size:
            self._count_replacement(ref)
            self._grow()
        return True

    def _count_replacement(self, ref: ActorRef) -> None:
        strategy = self.supervisor_strategy
        if strategy.max_restarts is None:
            return
        now = self.context.system.clock.time()
        times = self.replacements
        if strategy.within is not None:
            while times and times[0] <= now - strategy.within:
                times.popleft()
        if len(times) >= strategy.max_restarts:
            raise RaykaError(
                f"pool {self.context.self.path}: routees died more than {strategy.max_restarts} times within "
                f"{strategy.within} s (last {ref.path}); check the routee class, or raise the pool's strategy limits"
            )
        times.append(now)
