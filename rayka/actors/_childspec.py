"""What a :class:`~rayka.Supervisor` knows of its children: specs, and the requests and answers about them.

The requests are OTP's child administration (``supervisor:start_child/2``,
``terminate_child/2``, ``restart_child/2``, ``delete_child/2``,
``count_children/1``, ``which_children/1``, ``get_childspec/2``) as messages
to ask the supervisor. Refusals raise :class:`~rayka.ChildError` with OTP's
reason.
"""

from __future__ import annotations

import builtins
import numbers
from dataclasses import dataclass, field
from typing import Any

from ._actor import Actor
from ._lifecycle import check_name
from ._ref import ActorRef
from ._supervision import Restart

__all__ = [
    "ChildCount", "ChildInfo", "ChildSpec", "CountChildren", "DeleteChild", "GetChildSpec", "RestartChild",
    "StartChild", "TerminateChild", "WhichChildren",
]


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How a :class:`Supervisor` starts one child; checked when it is made (OTP's ``check_childspecs``).

    Args:
        cls: the actor class (a subclass of :class:`~rayka.Actor`).
        name: the child's name (unique under the supervisor).
        args, kwargs: constructor arguments, reused on every restart.
        restart: ``Restart.PERMANENT`` (default: restarted even after a normal
            stop), ``TRANSIENT`` (only after a failure) or ``TEMPORARY``
            (never; its spec goes once it stops); the OTP names as strings work too.
        shutdown_timeout: seconds its stop may take before it is terminated (>= 0).
        mailbox: a mailbox spec, or ``None`` for the class default.

    Raises:
        TypeError: ``cls`` is not an actor class, or ``args``/``kwargs`` are not a tuple/dict.
        ValueError: an unknown restart type, a bad name, a negative shutdown timeout.
    """

    cls: type[Actor]
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    restart: Restart = Restart.PERMANENT
    shutdown_timeout: float | None = None
    mailbox: Any = None

    def __post_init__(self) -> None:
        if not (isinstance(self.cls, type) and issubclass(self.cls, Actor)):
            raise TypeError(f"ChildSpec {self.name!r}: cls must be a subclass of rayka.Actor, not {self.cls!r}")
        check_name(self.name, self.cls, "a Supervisor")
        if self.name is None:
            raise ValueError(f"ChildSpec of {self.cls.__name__}: a child needs a name")
        if not isinstance(self.args, tuple):
            raise TypeError(f"ChildSpec {self.name!r}: args must be a tuple, not {type(self.args).__name__}")
        if not isinstance(self.kwargs, dict):
            raise TypeError(f"ChildSpec {self.name!r}: kwargs must be a dict, not {type(self.kwargs).__name__}")
        if not isinstance(self.restart, Restart):
            try:
                object.__setattr__(self, "restart", Restart(self.restart))
            except ValueError:
                raise ValueError(
                    f"ChildSpec {self.name!r}: unknown restart type {self.restart!r}; use Restart.PERMANENT, "
                    "Restart.TRANSIENT or Restart.TEMPORARY"
                ) from None
        timeout = self.shutdown_timeout
        if timeout is not None and (not isinstance(timeout, numbers.Real) or isinstance(timeout, bool)
                                    or timeout < 0):
            raise ValueError(
                f"ChildSpec {self.name!r}: shutdown_timeout must be a number of seconds >= 0 or None, not {timeout!r}")

    @property
    def is_supervisor(self) -> bool:
        """Whether the child is itself a supervisor (OTP's child type ``supervisor``)."""
        from ._supervisor import Supervisor

        return issubclass(self.cls, Supervisor)


@dataclass(frozen=True, slots=True)
class StartChild:
    """Add ``spec`` and start its child (last in start order); the answer is its ref."""

    spec: ChildSpec


@dataclass(frozen=True, slots=True)
class TerminateChild:
    """Stop the child ``name``; its spec stays (a temporary child's goes) and it is not restarted."""

    name: str


@dataclass(frozen=True, slots=True)
class RestartChild:
    """Start the terminated child ``name`` again from its spec; the answer is its ref."""

    name: str


@dataclass(frozen=True, slots=True)
class DeleteChild:
    """Forget the spec of the terminated child ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class GetChildSpec:
    """The answer is the :class:`ChildSpec` of ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class CountChildren:
    """The answer is a :class:`ChildCount`."""


@dataclass(frozen=True, slots=True)
class WhichChildren:
    """The answer is a list of :class:`ChildInfo`, in start order, terminated and restarting ones too."""


@dataclass(frozen=True, slots=True)
class ChildCount:
    """OTP's ``count_children``: specs, running children, and specs by type."""

    specs: int
    active: int
    supervisors: int
    workers: int


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """OTP's ``which_children`` entry.

    Attributes:
        name: the child's name.
        ref: its ref while it runs, else ``None``.
        status: ``"running"``, ``"restarting"`` (waiting for its backoff) or ``"terminated"``.
        type: ``"supervisor"`` or ``"worker"``.
        cls: its class.
    """

    name: str
    ref: ActorRef | None
    status: str
    type: str
    cls: builtins.type[Actor]
