"""A pool's resizer: grow under pressure, shrink when idle (Akka's ``DefaultResizer``).

Every ``messages_per_resize`` routed messages the pool counts its routees
under *pressure*: those with at least ``pressure_threshold`` messages waiting
in their mailbox. When every routee is under pressure the pool grows by
``rampup_rate`` of its size (at least one); when fewer than
``backoff_threshold`` of them are, it shrinks by ``backoff_rate`` of its size
(at least one). It stays within ``lower`` and ``upper``. Only the mailboxes of
routees in the pool's own process can be seen: the share is taken over those,
and a pool whose routees are all on other nodes keeps its size.

Example:
    >>> resizer = Resizer(lower=1, upper=8)
    >>> resizer.proposed(size=4, pressured=4)  # all busy: grow by 20%, at least 1
    5
    >>> resizer.proposed(size=4, pressured=0)  # idle: shrink by 10%, at least 1
    3
    >>> resizer.proposed(size=4, pressured=2)  # in between: keep
    4
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Resizer"]


@dataclass(frozen=True, slots=True)
class Resizer:
    """How a :class:`~rayka.patterns.Pool` sizes itself to its load.

    Args:
        lower: the fewest routees.
        upper: the most routees.
        pressure_threshold: waiting messages that put a routee under pressure.
        rampup_rate: how much to grow, as a share of the size, when all are under pressure.
        backoff_threshold: shrink when fewer than this share are under pressure (0: never shrink).
        backoff_rate: how much to shrink, as a share of the size.
        messages_per_resize: routed messages between two looks at the pressure.
    """

    lower: int = 1
    upper: int = 10
    pressure_threshold: int = 1
    rampup_rate: float = 0.2
    backoff_threshold: float = 0.3
    backoff_rate: float = 0.1
    messages_per_resize: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.lower, int) or not isinstance(self.upper, int) or not 0 <= self.lower <= self.upper:
            raise ValueError(f"Resizer needs ints 0 <= lower <= upper, got lower={self.lower!r}, upper={self.upper!r}")
        if self.upper < 1:
            raise ValueError(f"Resizer upper must be >= 1, got {self.upper!r}")
        if not isinstance(self.messages_per_resize, int) or self.messages_per_resize < 1:
            raise ValueError(f"Resizer messages_per_resize must be an int >= 1, got {self.messages_per_resize!r}")
        if not isinstance(self.pressure_threshold, int) or self.pressure_threshold < 1:
            raise ValueError(f"Resizer pressure_threshold must be an int >= 1, got {self.pressure_threshold!r}")
        for name in ("rampup_rate", "backoff_threshold", "backoff_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"Resizer {name} must be a number >= 0, got {value!r}")

    def proposed(self, size: int, pressured: int) -> int:
        """The size to move to, given how many of ``size`` routees are under pressure."""
        change = 0
        if size and pressured >= size and self.rampup_rate > 0:
            change = max(1, math.ceil(self.rampup_rate * size))
        elif size and self.backoff_threshold > 0 and self.backoff_rate > 0 and pressured / size < self.backoff_threshold:
            change = -max(1, math.ceil(self.backoff_rate * size))
        elif not size:
            change = 1
        return min(self.upper, max(self.lower, size + change))
