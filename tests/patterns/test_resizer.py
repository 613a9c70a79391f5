"""A pool with a resizer grows while its routees are all busy and shrinks while they are idle."""

from __future__ import annotations

from typing import Any

import pytest

import rayka
from rayka.patterns import GetRoutees, Pool, Resizer

from .patterns_support import Gate, Tally

pytestmark = pytest.mark.timeout(30)


class Waiting(rayka.Actor):
    """Handles each message once the gate is open, counting it."""

    def __init__(self, gate: Gate, tally: Tally) -> None:
        self.gate, self.tally = gate, tally

    async def receive(self, message: Any) -> None:
        await self.gate.wait()
        self.tally.add()


class Echo(rayka.Actor):
    def receive(self, message: Any) -> Any:
        return message


def routees(pool: rayka.ActorRef) -> tuple:
    return pool.ask(GetRoutees()).result(timeout=5)


def test_a_pool_whose_routees_are_all_busy_grows_up_to_its_upper_bound(system: rayka.ActorSystem) -> None:
    gate, tally = Gate(), Tally(200)
    resizer = Resizer(lower=2, upper=5, messages_per_resize=10)
    pool = system.spawn(Pool, Waiting, 2, args=(gate, tally), resizer=resizer)
    assert len(routees(pool)) == 2
    for n in range(200):
        pool.tell(n)
    assert len(routees(pool)) == 5  # grown while every mailbox was full, never past 5
    gate.open()
    assert tally.wait(10)  # nothing lost while it grew
    assert len(routees(pool)) == 5


def test_a_pool_whose_routees_are_idle_shrinks_to_its_lower_bound(system: rayka.ActorSystem) -> None:
    pool = system.spawn(Pool, Echo, 6, resizer=Resizer(lower=2, upper=8, messages_per_resize=1))
    assert len(routees(pool)) == 6
    sizes = []
    for n in range(10):
        assert pool.ask(n).result(timeout=5) == n  # one at a time: every mailbox is empty when it routes
        sizes.append(len(routees(pool)))
    assert sizes[:4] == [5, 4, 3, 2] and set(sizes[4:]) == {2}


def test_a_starting_size_outside_the_bounds_is_brought_within_them(system: rayka.ActorSystem) -> None:
    pool = system.spawn(Pool, Echo, 20, resizer=Resizer(lower=1, upper=3))
    assert len(routees(pool)) == 3


def test_bad_resizer_settings_are_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="lower <= upper"):
        Resizer(lower=5, upper=2)
    with pytest.raises(ValueError, match="messages_per_resize"):
        Resizer(messages_per_resize=0)
    with pytest.raises(ValueError, match="backoff_rate"):
        Resizer(backoff_rate=-0.1)


def test_a_pool_refuses_a_resizer_that_is_not_one(system: rayka.ActorSystem) -> None:
    with pytest.raises(TypeError, match="Pool resizer must be a Resizer"):
        system.spawn(Pool, Echo, 2, resizer={"upper": 4})
