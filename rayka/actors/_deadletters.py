"""Dead letters: messages that could not be delivered, counted, kept and observable."""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from typing import Any, Callable

from ._signals import DeadLetter

__all__ = ["DeadLetters"]

log = logging.getLogger("rayka.dead_letters")


class DeadLetters:
    """The dead-letter office of one actor system.

    Example:
        >>> import rayka
        >>> with rayka.ActorSystem("doc") as system:
        ...     ref = system.spawn(rayka.testing.Probe)
        ...     ref.stop()
        ...     _ = system.wait_terminated(ref, timeout=1)
        ...     ref.tell("hello?")
        ...     (system.dead_letters.count, system.dead_letters.recent()[-1].reason)
        (1, 'stopped')
    """

    def __init__(self, keep: int = 1000) -> None:
        self._lock = threading.Lock()
        self._recent: deque[DeadLetter] = deque(maxlen=keep)
        self._by_reason: Counter[str] = Counter()
        self._subscribers: list[Any] = []
        self.count = 0

    def publish(self, letter: DeadLetter) -> None:
        with self._lock:
            self.count += 1
            self._by_reason[letter.reason] += 1
            self._recent.append(letter)
            subscribers = self._subscribers
        for subscriber in subscribers:
            try:
                if callable(subscriber):
                    subscriber(letter)
                elif subscriber.is_alive:  # a dead subscriber ref would loop letters back here
                    subscriber.tell(letter)
            except Exception:  # noqa: BLE001 - a bad subscriber must not lose the letter for others
                log.exception("rayka: dead-letter subscriber %r failed", subscriber)

    def subscribe(self, subscriber: Callable[[DeadLetter], Any] | Any) -> Callable[[], None]:
        """Call ``subscriber(letter)`` (or ``subscriber.tell(letter)`` for a ref) for every new letter.

        Returns a function that unsubscribes.
        """
        with self._lock:
            self._subscribers = [*self._subscribers, subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not subscriber]

        return unsubscribe

    def recent(self, n: int | None = None) -> list[DeadLetter]:
        """The last ``n`` letters (all kept ones by default), oldest first."""
        with self._lock:
            letters = list(self._recent)
        return letters if n is None else letters[-n:]

    def by_reason(self) -> dict[str, int]:
        """How many letters per reason."""
        with self._lock:
            return dict(self._by_reason)

    def __repr__(self) -> str:
        return f"<DeadLetters count={self.count}>"
