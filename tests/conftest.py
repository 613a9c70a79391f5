"""Fixtures shared by the whole suite: an actor system that is always shut down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rayka import ActorSystem
from rayka.testing import ManualClock


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    """An embedded actor system on the real clock, shut down after the test."""
    system = ActorSystem("test", shutdown_timeout=2.0)
    try:
        yield system
    finally:
        system.shutdown(timeout=10)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only with ``clock.advance(seconds)``."""
    return ManualClock()


@pytest.fixture
def clocked(clock: ManualClock) -> Iterator[ActorSystem]:
    """An actor system whose timers and restart backoff follow ``clock``."""
    system = ActorSystem("clocked", clock=clock, shutdown_timeout=2.0)
    try:
        yield system
    finally:
        system.shutdown(timeout=10)
