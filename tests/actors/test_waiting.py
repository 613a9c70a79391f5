"""Waiting on many replies: rayka.gather, rayka.wait and Reply.future(), from threads, asyncio and actors."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import pytest

import rayka

pytestmark = pytest.mark.timeout(30)


class Square(rayka.Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return message * message


class Held(rayka.Actor):
    """Answers each ask when the test lets it: ``("hold", event)`` waits on a thread for ``event``."""

    blocking = True

    def receive(self, message: Any) -> Any:
        value, event = message
        event.wait(10)
        return value


class Silent(rayka.Actor):
    """Never answers an ask: it takes the reply over and drops it."""

    def receive(self, message: Any) -> Any:
        self.context.defer_reply()


def test_gather_returns_results_in_order_or_the_first_error(system: rayka.ActorSystem) -> None:
    square = system.spawn(Square)
    assert rayka.gather([square.ask(n) for n in range(100)]).result(timeout=5) == [n * n for n in range(100)]
    with pytest.raises(ValueError, match="boom"):
        rayka.gather([square.ask(2), square.ask("boom"), square.ask(3)]).result(timeout=5)
    assert rayka.gather([]).result(timeout=1) == []
    with pytest.raises(TypeError, match="takes Reply objects"):
        rayka.gather([1, 2])  # type: ignore[list-item]


def test_gather_fails_at_its_timeout_naming_what_is_pending(system: rayka.ActorSystem) -> None:
    silent, square = system.spawn(Silent), system.spawn(Square)
    combined = rayka.gather([square.ask(1), silent.ask("x", timeout=None)], timeout=0.2)
    with pytest.raises(rayka.AskTimeout, match="gather of 2 replies: 1 still pending after 0.2 s"):
        combined.result(timeout=5)


def test_a_parts_deadline_resolves_the_combination_without_anyone_looking(system: rayka.ActorSystem) -> None:
    silent = system.spawn(Silent)
    resolved = threading.Event()
    combined = rayka.gather([silent.ask("x", timeout=0.2)])
    combined.add_done_callback(lambda reply: resolved.set())
    assert resolved.wait(5)  # nobody called result(): the deadline sweeper looked at the part
    assert isinstance(combined.exception(timeout=0), rayka.AskTimeout)


def test_gather_is_awaitable_in_asyncio_code_and_inside_an_actor(system: rayka.ActorSystem) -> None:
    square = system.spawn(Square)

    async def main() -> list:
        return await rayka.gather([square.ask(n) for n in range(5)])

    assert asyncio.run(main()) == [0, 1, 4, 9, 16]

    class Fan(rayka.Actor):
        async def receive(self, message: Any) -> Any:
            return await rayka.gather([square.ask(n) for n in message])

    assert system.spawn(Fan).ask([3, 4]).result(timeout=5) == [9, 16]


def test_wait_returns_done_and_pending_in_input_order(system: rayka.ActorSystem) -> None:
    held = system.spawn(Held)
    square = system.spawn(Square)
    release = threading.Event()
    slow = held.ask((1, release), timeout=None)
    fast = [square.ask(2), square.ask("boom"), square.ask(3)]
    done, pending = rayka.wait([slow, *fast], num_returns=3).result(timeout=5)
    assert done == fast and pending == [slow]  # a failed reply counts as done
    done, pending = rayka.wait([slow, *fast], num_returns=4, timeout=0.1).result(timeout=5)
    assert done == fast and pending == [slow]  # the timeout gives what is done by then
    release.set()
    done, pending = rayka.wait([slow, *fast], num_returns=2).result(timeout=5)
    assert len(done) == 2 and len(pending) == 2
    for bad in (0, 5, True, "1"):
        with pytest.raises(ValueError, match="num_returns must be an int from 1 to the number of replies"):
            rayka.wait([slow, *fast], num_returns=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        rayka.wait([slow], timeout=-1)


def test_reply_future_works_with_concurrent_futures(system: rayka.ActorSystem) -> None:
    square, silent = system.spawn(Square), system.spawn(Silent)
    futures = [square.ask(n).future() for n in range(10)]
    done, not_done = concurrent.futures.wait(futures, timeout=5)
    assert len(done) == 10 and not not_done
    assert sorted(future.result() for future in concurrent.futures.as_completed(futures)) == [n * n for n in range(10)]
    expiring = silent.ask("x", timeout=0.2).future()
    with pytest.raises(rayka.AskTimeout):  # resolved at the ask's deadline, though nobody looked at the reply
        expiring.result(timeout=5)
    failing = square.ask("boom").future()
    assert isinstance(failing.exception(timeout=5), ValueError)
