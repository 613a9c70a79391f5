"""Helpers shared by the messaging-pattern tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import rayka


class Gate:
    """A latch that async handlers await without blocking the loop; the test thread opens it."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def open(self) -> None:
        self._event.set()

    async def wait(self) -> None:
        await asyncio.to_thread(self._event.wait, 10)


class Recorder(rayka.Actor):
    """Appends ``(name, message)`` to a shared list and answers asks with ``(name, message)``."""

    def __init__(self, log: list, done: threading.Event | None = None, expected: int = 0) -> None:
        self.log = log
        self.done = done
        self.expected = expected

    def receive(self, message: Any) -> Any:
        self.log.append((self.context.self.name, message))
        if self.done is not None and len(self.log) >= self.expected:
            self.done.set()
        return (self.context.self.name, message)


class Tally:
    """A thread-safe counter that sets ``done`` when it reaches ``expected``."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def add(self, n: int = 1) -> None:
        with self._lock:
            self.count += n
            if self.count >= self.expected:
                self.done.set()

    def wait(self, timeout: float = 10.0) -> bool:
        return self.done.wait(timeout)
