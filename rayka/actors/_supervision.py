"""Supervision as data: directives, strategies, backoff and child restart types.

A strategy is a frozen value an actor class sets as ``supervisor_strategy``
for its children. Semantics and defaults follow Erlang/OTP and Akka:

Example:
    >>> from rayka import OneForOne, Directive
    >>> strategy = OneForOne(max_restarts=3, within=5.0, decider={ValueError: Directive.RESUME})
    >>> strategy.decide(ValueError("bad"))
    <Directive.RESUME: 'resume'>
    >>> strategy.decide(KeyError("k"))
    <Directive.ESCALATE: 'escalate'>
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Union

__all__ = [
    "AllForOne",
    "Backoff",
    "DEFAULT_STRATEGY",
    "Directive",
    "OneForOne",
    "RestForOne",
    "Restart",
    "Strategy",
]


class Directive(enum.Enum):
    """What a supervisor does with a failed child."""

    RESUME = "resume"  # keep the instance and its state, drop the failing message
    RESTART = "restart"  # new instance from the same constructor arguments, mailbox kept
    STOP = "stop"  # stop the child
    ESCALATE = "escalate"  # fail the supervisor itself with the child's error


class Restart(enum.Enum):
    """Child restart types (OTP).

    ``PERMANENT`` children are restarted after a failure and, under a
    :class:`~rayka.Supervisor`, after a normal stop too; ``TRANSIENT`` only
    after a failure (the default for ``spawn``); ``TEMPORARY`` never.
    """

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


Decider = Union[Callable[[BaseException], Directive], Mapping[type, Directive]]


def _default_decider(error: BaseException) -> Directive:
    return Directive.RESTART if isinstance(error, Exception) else Directive.ESCALATE


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter between restarts.

    The n-th consecutive restart waits ``min(max, min * factor**n)`` seconds,
    stretched by a random fraction up to ``jitter``. The count resets once
    the child has run ``reset_after`` seconds without failing (default: ``max``).
    """

    min: float = 0.1
    max: float = 10.0
    factor: float = 2.0
    jitter: float = 0.2
    reset_after: float | None = None

    def __post_init__(self) -> None:
        if self.min < 0 or self.max < self.min:
            raise ValueError(f"Backoff needs 0 <= min <= max, got min={self.min}, max={self.max}")
        if self.factor < 1:
            raise ValueError(f"Backoff factor must be >= 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"Backoff jitter must be within [0, 1], got {self.jitter}")

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        base = min(self.max, self.min * self.factor ** attempt)
        return base * (1.0 + self.jitter * rng())

    @property
    def reset_window(self) -> float:
        return self.max if self.reset_after is None else self.reset_after


@dataclass(frozen=True, slots=True)
class Strategy:
    """Base of the supervisor strategies.

    Args:
        max_restarts: restarts allowed within ``within`` seconds; ``None`` = unlimited.
        within: the sliding window in seconds; ``None`` = forever.
        decider: a callable from exception to :class:`Directive`, or a mapping
            from exception types to directives (the most specific type wins;
            an error no entry matches escalates).
        backoff: optional :class:`Backoff` between restarts.
    """

    max_restarts: int | None = 10
    within: float | None = 10.0
    decider: Decider = field(default=_default_decider)
    backoff: Backoff | None = None

    def __post_init__(self) -> None:
        if self.max_restarts is not None and self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0 or None, got {self.max_restarts}")
        if self.within is not None and self.within <= 0:
            raise ValueError(f"within must be > 0 seconds or None, got {self.within}")
        if not callable(self.decider) and not isinstance(self.decider, Mapping):
            raise TypeError("decider must be a callable or a mapping from exception types to Directive")

    def decide(self, error: BaseException) -> Directive:
        decider = self.decider
        if isinstance(decider, Mapping):
            for kind in type(error).__mro__:
                if kind in decider:
                    return decider[kind]
            return Directive.ESCALATE
        directive = decider(error)
        if not isinstance(directive, Directive):
            raise TypeError(f"decider returned {directive!r}; it must return a rayka.Directive")
        return directive

    def with_backoff(self, min: float = 0.1, max: float = 10.0, factor: float = 2.0,
                     jitter: float = 0.2, reset_after: float | None = None) -> Strategy:
        """Return a copy that waits with exponential backoff between restarts."""
        return replace(self, backoff=Backoff(min, max, factor, jitter, reset_after))

    def with_limit(self, max_restarts: int | None, within: float | None) -> Strategy:
        """Return a copy with another restart intensity."""
        return replace(self, max_restarts=max_restarts, within=within)

    def affected(self, children: list, failed: object) -> list:
        """The children a directive for ``failed`` applies to."""
        return [failed]


@dataclass(frozen=True, slots=True)
class OneForOne(Strategy):
    """Apply the directive to the failed child only."""


@dataclass(frozen=True, slots=True)
class AllForOne(Strategy):
    """Apply the directive to every child of the supervisor."""

    def affected(self, children: list, failed: object) -> list:
        return list(children)


@dataclass(frozen=True, slots=True)
class RestForOne(Strategy):
    """Apply the directive to the failed child and the children started after it."""

    def affected(self, children: list, failed: object) -> list:
        return list(children[children.index(failed):]) if failed in children else [failed]


DEFAULT_STRATEGY = OneForOne()
"""Restart on any ``Exception``, at most 10 times within 10 seconds; escalate the rest."""
