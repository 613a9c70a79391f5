"""A declarative supervisor in the OTP style: child specs started in order, stopped in reverse.

It runs OTP's rules itself, on top of the core's supervision: its
strategy's decider says *whether* a failed child restarts (RESUME, STOP and
ESCALATE work as for any actor), and the supervisor carries out a restart
the OTP way:

- ``OneForOne``: the failed child only; ``AllForOne``: every running child
  is stopped in reverse start order, then all are started in start order;
  ``RestForOne``: the failed child and the ones started after it, the same way.
- Restart types: a ``PERMANENT`` child is restarted after any stop, a
  ``TRANSIENT`` one only after a failure, a ``TEMPORARY`` one never (and its
  spec goes when it stops, also when a sibling's restart stopped it).
- Restart intensity is the supervisor's: every restart of any of its children
  counts in one window (the strategy's ``max_restarts`` within ``within``).
  Past it, the supervisor stops its children in reverse start order and fails
  with :class:`~rayka.RestartLimitExceeded`, so its own supervisor decides.
  (A plain actor's ``supervisor_strategy`` counts per child, as Akka does.)
- A child restarted after a failure keeps its ref and its mailbox (the core's
  restart, in two halves: every old instance stops, in reverse start order,
  then every new one starts, in start order). A permanent child that stopped
  normally is spawned again: a new ref under the same name (as OTP gives a
  new pid); find it by name (``lookup``, ``context.child``, :class:`WhichChildren`).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from .._errors import ChildError, RestartLimitExceeded
from ._actor import Actor
from ._childspec import (
    ChildCount, ChildInfo, ChildSpec, CountChildren, DeleteChild, GetChildSpec, RestartChild, StartChild,
    TerminateChild, WhichChildren,
)
from ._ref import ActorRef
from ._signals import ChildFailed, Terminated
from ._supervision import DEFAULT_STRATEGY, AllForOne, Directive, OneForOne, Restart, RestForOne, Strategy

__all__ = ["ChildSpec", "Supervisor"]

log = logging.getLogger("rayka")

_BY_NAME: dict[str, type[Strategy]] = {"one_for_one": OneForOne, "one_for_all": AllForOne,
                                       "rest_for_one": RestForOne}


@dataclass(frozen=True, slots=True)
class _OtpRules(OneForOne):
    """What the core applies to a Supervisor's children: its decider; a RESTART is handed to the Supervisor."""

    supervisor: Any = None

    def decide(self, error: BaseException) -> Directive:
        return self.supervisor.otp_strategy.decide(error)

    def takeover(self, child: Any, error: BaseException) -> None:
        """The failed child stays suspended; the Supervisor restarts it (and its siblings) in OTP's order."""
        self.supervisor.context.self.tell(_Failed(child.ref, error))


class _Failed:
    """A child failed and its strategy said restart: the core left it suspended for us."""

    __slots__ = ("ref", "error")

    def __init__(self, ref: ActorRef, error: BaseException) -> None:
        self.ref, self.error = ref, error


class _RestartDue:
    """A backoff ran out: start these children again (if they are still waiting)."""

    __slots__ = ("names", "cause")

    def __init__(self, names: list[str], cause: BaseException) -> None:
        self.names, self.cause = names, cause


class Supervisor(Actor):
    """Start children from specs in order under an OTP strategy; stop them in reverse order.

    Args:
        children: the child specs, in start order (names unique).
        strategy: ``OneForOne()``, ``AllForOne()``, ``RestForOne()`` (with
            ``max_restarts``/``within`` as the supervisor's intensity, a
            ``decider`` and a ``backoff``), or OTP's name of one
            (``"one_for_one"``, ``"one_for_all"``, ``"rest_for_one"``).

    Raises:
        TypeError, ValueError: a spec or the strategy is not valid (at spawn).

    Ask it :class:`StartChild`, :class:`TerminateChild`, :class:`RestartChild`,
    :class:`DeleteChild`, :class:`GetChildSpec`, :class:`CountChildren`,
    :class:`WhichChildren` (OTP's child administration; refusals raise
    :class:`~rayka.ChildError`), or ``"children"`` for the running ones by name.

    Example:
        >>> import rayka
        >>> from rayka.testing import Probe
        >>> from rayka.actors import StartChild, TerminateChild, RestartChild, DeleteChild, CountChildren
        >>> specs = [rayka.ChildSpec(Probe, "a"), rayka.ChildSpec(Probe, "b")]
        >>> with rayka.ActorSystem("doc") as system:
        ...     sup = system.spawn(rayka.Supervisor, specs, rayka.AllForOne(), name="sup")
        ...     sorted(sup.ask("children").result(timeout=1))
        ...     c = sup.ask(StartChild(rayka.ChildSpec(Probe, "c"))).result(timeout=1)
        ...     sup.ask(TerminateChild("c")).result(timeout=1)
        ...     sup.ask(CountChildren()).result(timeout=1)
        ...     try:
        ...         sup.ask(StartChild(rayka.ChildSpec(Probe, "a"))).result(timeout=1)
        ...     except rayka.ChildError as error:
        ...         error.reason
        ...     sup.ask(RestartChild("c")).result(timeout=1).name
        ...     try:
        ...         sup.ask(DeleteChild("c")).result(timeout=1)
        ...     except rayka.ChildError as error:
        ...         error.reason
        ['a', 'b']
        ChildCount(specs=3, active=2, supervisors=0, workers=3)
        'already_started'
        'c'
        'running'
    """

    def __init__(self, children: list[ChildSpec], strategy: Strategy | str = DEFAULT_STRATEGY) -> None:
        if isinstance(strategy, str):
            if strategy not in _BY_NAME:
                raise ValueError(f"Supervisor: unknown strategy {strategy!r}; use one of {sorted(_BY_NAME)} "
                                 "or OneForOne(), AllForOne(), RestForOne()")
            strategy = _BY_NAME[strategy]()
        if not isinstance(strategy, Strategy):
            raise TypeError(f"Supervisor: strategy must be OneForOne(), AllForOne(), RestForOne() or its OTP name, "
                            f"not {strategy!r}")
        children = list(children)
        for spec in children:
            if not isinstance(spec, ChildSpec):
                raise TypeError(f"Supervisor children must be ChildSpec values, not {spec!r}")
        names = [spec.name for spec in children]
        if len(set(names)) != len(names):
            raise ValueError(f"Supervisor child specs need unique names, got {names}")
        self.otp_strategy = strategy
        # The core stops a child whose failure the strategy says to restart; the restart is ours (OTP's rules).
        self.supervisor_strategy = _OtpRules(max_restarts=None, within=None, supervisor=self)
        self._specs: dict[str, ChildSpec] = {spec.name: spec for spec in children}
        self._refs: dict[str, ActorRef | None] = dict.fromkeys(self._specs)
        self._restarting: set[str] = set()
        self._restarts: deque[float] = deque()
        self._attempt = 0
        self._last_restart = float("-inf")
        self.shutdown_timeouts = {s.name: s.shutdown_timeout for s in children if s.shutdown_timeout is not None}

    # -- starting ----------------------------------------------------------------
    def on_start(self) -> None:
        for name in list(self._specs):
            self._start(name)

    def _start(self, name: str) -> ActorRef:
        spec = self._specs[name]
        ref = self.context.spawn(spec.cls, *spec.args, name=spec.name, mailbox=spec.mailbox,
                                 restart=spec.restart, **spec.kwargs)
        self.context.watch(ref)
        self._refs[name] = ref
        self._restarting.discard(name)
        self._keep_start_order()
        return ref

    def _keep_start_order(self) -> None:
        """A restarted child is spawned last; put the cell's children back in spec order (stop order reverses it)."""
        cell = self.context._cell
        children = cell._children
        if not children:
            return
        with cell._system.lock:
            ordered = {name: children[name] for name in self._specs if name in children}
            ordered.update((name, child) for name, child in children.items() if name not in ordered)
            cell._children = ordered

    # -- messages ----------------------------------------------------------------
    async def receive(self, message: Any) -> Any:
        if isinstance(message, _Failed):
            cell: Any = message.ref._cell
            if self._refs.get(message.ref.name) == message.ref and cell.failure is message.error:
                await self._restart_after(message.ref.name, message.error)  # (not one a restart already cured)
            return None
        if isinstance(message, ChildFailed):  # stopped for good by its strategy (STOP), or a temporary child
            return self._child_ended(message.ref, message.error)
        if isinstance(message, Terminated):
            return await self._child_stopped_normally(message.ref)
        if isinstance(message, _RestartDue):
            await self._start_group([n for n in message.names if n in self._restarting], message.cause)
            return None
        if message == "children":
            return {name: ref for name, ref in self._refs.items() if ref is not None and name not in self._restarting}
        try:
            return await self._administer(message)
        except (ChildError, TypeError) as refused:  # the asker's mistake: answered, not a failure of ours
            reply = self.context.defer_reply()
            if reply is None:
                log.warning("rayka: %s refused a told %s: %s", self.context.self.path, type(message).__name__,
                            refused)
            else:
                reply.set_exception(refused)
            return None

    async def _administer(self, message: Any) -> Any:
        if isinstance(message, StartChild):
            return self._start_child(message.spec)
        if isinstance(message, TerminateChild):
            return await self._terminate_child(message.name)
        if isinstance(message, RestartChild):
            return self._restart_child(message.name)
        if isinstance(message, DeleteChild):
            return self._delete_child(message.name)
        if isinstance(message, GetChildSpec):
            self._known(message.name)
            return self._specs[message.name]
        if isinstance(message, CountChildren):
            supervisors = sum(1 for spec in self._specs.values() if spec.is_supervisor)
            active = sum(1 for n, ref in self._refs.items() if ref is not None and n not in self._restarting)
            return ChildCount(len(self._specs), active, supervisors, len(self._specs) - supervisors)
        if isinstance(message, WhichChildren):
            return [self._info(name) for name in self._specs]
        raise TypeError(f"Supervisor {self.context.self.path} does not handle {type(message).__name__} messages; "
                        "ask StartChild, TerminateChild, RestartChild, DeleteChild, GetChildSpec, CountChildren, "
                        "WhichChildren or 'children'")

    def _info(self, name: str) -> ChildInfo:
        spec, ref = self._specs[name], self._refs.get(name)
        status = "restarting" if name in self._restarting else "running" if ref is not None else "terminated"
        return ChildInfo(name, ref, status, "supervisor" if spec.is_supervisor else "worker", spec.cls)

    # -- child administration ----------------------------------------------------
    def _known(self, name: str) -> None:
        if name not in self._specs:
            raise ChildError(f"{self.context.self.path} has no child {name!r}", "not_found", name)

    def _start_child(self, spec: ChildSpec) -> ActorRef:
        if not isinstance(spec, ChildSpec):
            raise TypeError(f"StartChild needs a ChildSpec, not {spec!r}")
        ref = self._refs.get(spec.name)
        if ref is not None:
            raise ChildError(f"{self.context.self.path}: child {spec.name!r} is already started",
                             "already_started", spec.name, ref)
        if spec.name in self._specs:
            raise ChildError(f"{self.context.self.path}: a spec named {spec.name!r} is already present "
                             "(delete it first, or restart it)", "already_present", spec.name)
        self._specs[spec.name] = spec
        self._refs[spec.name] = None
        if spec.shutdown_timeout is not None:
            self.shutdown_timeouts[spec.name] = spec.shutdown_timeout
        try:
            return self._start(spec.name)
        except BaseException:
            self._forget(spec.name)
            raise

    async def _terminate_child(self, name: str) -> None:
        self._known(name)
        self._restarting.discard(name)
        ref = self._refs.get(name)
        if ref is not None:
            await self._stop([name])
        if self._specs[name].restart is Restart.TEMPORARY:
            self._forget(name)

    def _restart_child(self, name: str) -> ActorRef:
        self._known(name)
        self._refuse_if_alive(name)
        return self._start(name)

    def _delete_child(self, name: str) -> None:
        self._known(name)
        self._refuse_if_alive(name)
        self._forget(name)

    def _refuse_if_alive(self, name: str) -> None:
        if name in self._restarting:
            raise ChildError(f"{self.context.self.path}: child {name!r} is restarting", "restarting", name)
        if self._refs.get(name) is not None:
            raise ChildError(f"{self.context.self.path}: child {name!r} is running; terminate it first",
                             "running", name)

    def _forget(self, name: str) -> None:
        self._specs.pop(name, None)
        self._refs.pop(name, None)
        self._restarting.discard(name)
        self.shutdown_timeouts.pop(name, None)

    # -- failures and stops ------------------------------------------------------
    def _child_ended(self, ref: ActorRef, error: BaseException) -> None:
        name = ref.name
        if self._refs.get(name) != ref:
            return  # a former incarnation, or one this supervisor stopped itself
        self._refs[name] = None
        if self._specs[name].restart is Restart.TEMPORARY:
            self._forget(name)  # never restarted; its spec goes, its siblings are not touched

    async def _child_stopped_normally(self, ref: ActorRef) -> None:
        name = ref.name
        if self._refs.get(name) != ref:
            return
        self._refs[name] = None
        restart = self._specs[name].restart
        if restart is Restart.TEMPORARY:
            self._forget(name)
        elif restart is Restart.PERMANENT:  # OTP restarts a permanent child after any exit, siblings as well
            await self._restart_after(name, None)

    async def _restart_after(self, name: str, error: BaseException | None) -> None:
        clock = self.context.system.clock
        now = clock.time()
        strategy = self.otp_strategy
        times = self._restarts
        if strategy.within is not None:
            while times and times[0] <= now - strategy.within:
                times.popleft()
        if strategy.max_restarts is not None and len(times) >= strategy.max_restarts:
            await self._give_up(name, error)
            return
        times.append(now)
        names = list(self._specs)
        if isinstance(strategy, AllForOne):
            group = [n for n in names if n == name or self._refs.get(n) is not None]
        elif isinstance(strategy, RestForOne):
            group = [n for n in names[names.index(name):] if n == name or self._refs.get(n) is not None]
        else:
            group = [name]
        # First half: every old instance stops, the failed one first, then the rest in reverse start order.
        # A temporary sibling is stopped for good (OTP never restarts one).
        for n in [name] + [n for n in reversed(group) if n != name]:
            ref = self._refs.get(n)
            if ref is None:
                continue  # stopped normally: it is spawned again below
            if self._specs[n].restart is Restart.TEMPORARY:
                await self._stop([n])
                self._forget(n)
                continue
            self._restarting.add(n)
            await ref._cell.restart_teardown(error)
        group = [n for n in group if n in self._specs]
        cause = error if error is not None else RuntimeError(f"permanent child {name!r} stopped")
        delay = self._backoff(now)
        if delay > 0:
            self._restarting.update(group)
            self.context.schedule_once(delay, _RestartDue(group, cause))
            return
        await self._start_group(group, cause)

    async def _start_group(self, group: list[str], cause: BaseException) -> None:
        """Second half, in start order: a new instance in each kept cell, a new child for each stopped one."""
        for name in group:
            self._restarting.discard(name)
            if name not in self._specs:
                continue
            ref = self._refs.get(name)
            if ref is not None:
                await ref._cell.restart_build(cause)  # a constructor that fails is a new failure, as any
                continue
            try:
                self._start(name)
            except Exception as start_error:  # noqa: BLE001 - a child that cannot start is a failure too
                log.error("rayka: %s could not start %r again: %r", self.context.self.path, name, start_error)
                await self._restart_after(name, start_error)
                return

    def _backoff(self, now: float) -> float:
        backoff = self.otp_strategy.backoff
        if backoff is None:
            return 0.0
        if now - self._last_restart >= backoff.reset_window:
            self._attempt = 0
        delay = backoff.delay(self._attempt)
        self._attempt += 1
        self._last_restart = now + delay
        return delay

    async def _give_up(self, name: str, error: BaseException | None) -> None:
        strategy = self.otp_strategy
        log.error("rayka: %s: its children needed more than %s restarts within %s s (last: %r of %r); "
                  "it stops them and fails", self.context.self.path, strategy.max_restarts, strategy.within,
                  error, name)
        await self._stop([name])  # the failed one first (its old instance is still there), then the rest
        await self._stop([n for n in self._specs if self._refs.get(n) is not None])
        failure = RestartLimitExceeded(
            f"supervisor {self.context.self.path}: more than {strategy.max_restarts} restarts of its children "
            f"within {strategy.within} s (the last for {name!r}); it stopped them and gave up")
        raise failure from error

    async def _stop(self, names: list[str]) -> None:
        """Stop these children one at a time, in reverse start order, each within its shutdown timeout."""
        order = [n for n in self._specs if n in names]
        for name in reversed(order):
            ref = self._refs.get(name)
            if ref is None:
                continue
            self._refs[name] = None
            self.context.unwatch(ref)  # its Terminated is ours to expect, not a stop to act on
            await self.context._cell.stop_child(ref._cell)  # the core's bounded stop

