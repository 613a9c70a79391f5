"""Lifecycle signals: small immutable values delivered to ``receive``.

They are a family of their own, apart from user messages (Akka typed):
``Terminated`` arrives once per watch; ``ChildFailed`` tells a parent that a
child was stopped because of a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["ChildFailed", "DeadLetter", "Signal", "Terminated"]


class Signal:
    """Base of the lifecycle signals."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Terminated(Signal):
    """The watched actor ``ref`` has stopped (or its node died)."""

    ref: ActorRef


@dataclass(frozen=True, slots=True)
class ChildFailed(Terminated):
    """The child ``ref`` was stopped by its supervisor because of ``error``."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be delivered.

    Attributes:
        message: the message itself.
        sender: the sender's ref, if it gave one.
        recipient: the path of the actor it was meant for.
        reason: ``"stopped"``, ``"unknown"``, ``"overflow"`` or ``"left in mailbox"``.
    """

    message: Any
    sender: ActorRef | None
    recipient: str
    reason: str
