"""A declarative supervisor in the OTP style: child specs started in order, stopped in reverse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._actor import Actor
from ._ref import ActorRef
from ._signals import ChildFailed, Terminated
from ._supervision import DEFAULT_STRATEGY, Restart, Strategy

__all__ = ["ChildSpec", "Supervisor"]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How a :class:`Supervisor` starts one child.

    Args:
        cls: the actor class.
        name: the child's name (unique under the supervisor).
        args, kwargs: constructor arguments, reused on every restart.
        restart: ``PERMANENT`` (default: restarted even after a normal stop),
            ``TRANSIENT`` (only after a failure) or ``TEMPORARY`` (never).
        shutdown_timeout: seconds its stop may take before it is terminated.
        mailbox: a mailbox spec, or ``None`` for the class default.
    """

    cls: type[Actor]
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    restart: Restart = Restart.PERMANENT
    shutdown_timeout: float | None = None
    mailbox: Any = None


class Supervisor(Actor):
    """Start children from specs in order under a strategy; stop them in reverse order.

    Ask it ``"children"`` for the current refs by name.

    Example:
        >>> import rayka
        >>> from rayka.testing import Probe
        >>> specs = [rayka.ChildSpec(Probe, "a"), rayka.ChildSpec(Probe, "b")]
        >>> with rayka.ActorSystem("doc") as system:
        ...     sup = system.spawn(rayka.Supervisor, specs, rayka.AllForOne(), name="sup")
        ...     sorted(sup.ask("children").result(timeout=1))
        ['a', 'b']
    """

    def __init__(self, children: list[ChildSpec], strategy: Strategy = DEFAULT_STRATEGY) -> None:
        names = [spec.name for spec in children]
        if len(set(names)) != len(names):
            raise ValueError(f"Supervisor child specs need unique names, got {names}")
        self.specs = {spec.name: spec for spec in children}
        self.supervisor_strategy = strategy
        self.shutdown_timeouts = {s.name: s.shutdown_timeout for s in children if s.shutdown_timeout is not None}

    def on_start(self) -> None:
        for spec in self.specs.values():
            self._start(spec)

    def _start(self, spec: ChildSpec) -> ActorRef:
        ref = self.context.spawn(spec.cls, *spec.args, name=spec.name, mailbox=spec.mailbox,
                                 restart=spec.restart, **spec.kwargs)
        self.context.watch(ref)
        return ref

    def receive(self, message: Any) -> Any:
        if isinstance(message, Terminated) and not isinstance(message, ChildFailed):
            spec = self.specs.get(message.ref.name)
            if spec is not None and spec.restart is Restart.PERMANENT and self.context.child(spec.name) is None:
                self._start(spec)
            return None
        if message == "children":
            return {ref.name: ref for ref in self.context.children}
        return None
