"""Method calls on the embedded runtime: proxies, typed call/cast, refusals, async and blocking methods."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import cloudpickle
import pytest

import rayka
from rayka.actors.spi import Call
from rayka.testing import TestProbe

pytestmark = pytest.mark.timeout(30)


class Counter(rayka.Actor):
    """Methods only: no receive."""

    def __init__(self, start: int = 0) -> None:
        self.count = start

    def add(self, n: int) -> int:
        self.count += n
        return self.count

    async def add_later(self, n: int) -> int:
        await asyncio.sleep(0.001)
        return self.add(n)


class Threaded(rayka.Actor):
    blocking = True

    def where(self) -> int:
        return threading.get_ident()


class AsyncReceiver(rayka.Actor):
    def __init__(self) -> None:
        self.seen: list = []

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(0)
        self.seen.append(message)
        return message

    def seen_so_far(self) -> list:
        return list(self.seen)

    async def seen_after_a_step(self) -> list:
        await asyncio.sleep(0)
        return list(self.seen)


def test_an_actor_with_methods_only_refuses_plain_messages_and_goes_on(system: rayka.ActorSystem) -> None:
    counter = system.spawn(Counter, 10, name="counter")
    letters = TestProbe(system)
    system.dead_letters.subscribe(letters.ref)
    with pytest.raises(TypeError, match=r"Counter actor /user/counter got a str message but has no receive"):
        counter.ask("add 1").result(timeout=5)
    counter.tell("add 2")
    letter = letters.expect(timeout=5)
    assert (letter.message, letter.reason, letter.recipient) == ("add 2", "refused", "/user/counter")
    counter.proxy().missing.tell(3)  # a call nobody waits for, refused: logged and dead-lettered too
    letter = letters.expect(timeout=5)
    assert (letter.reason, letter.recipient, letter.message) == ("refused", "/user/counter", Call("missing", (3,)))
    assert counter.proxy().add(1).result(timeout=5) == 11  # the same instance: nothing was restarted
    assert system.statistics()["failures"] == 0


def test_refused_calls_name_the_actor_class_and_leave_the_actor_running(system: rayka.ActorSystem) -> None:
    counter = system.spawn(Counter, name="c")
    proxy = counter.proxy()
    bad: list[tuple[Any, type, str]] = [
        (Call("missing", ()), AttributeError, "Counter actor /user/c has no attribute 'missing'; "
                                              "its public methods: add, add_later"),
        (Call("_private", ()), AttributeError, "private names"),
        (Call("__init__", (5,)), AttributeError, "private names"),
        (Call("on_start", ()), AttributeError, "hooks and settings"),
        (Call("context", None), AttributeError, "hooks and settings"),
        (Call(7, ()), AttributeError, "cannot be called"),  # a damaged record: still only a refusal
        (Call("add", ("x", "y", "z")), TypeError, r"add\(\): .*positional argument"),
        (Call("add", None), TypeError, "'add' is a method: call it"),
        (Call("count", (1,)), TypeError, "'count' is a int, not a method"),
    ]
    for call, error, text in bad:
        with pytest.raises(error, match=text):
            counter.ask(call).result(timeout=5)
    with pytest.raises(AttributeError, match="public names only"):
        proxy._hidden
    assert proxy.add(2).result(timeout=5) == 2 and system.statistics()["failures"] == 0


def test_an_error_raised_inside_a_method_is_a_failure_for_the_supervisor(system: rayka.ActorSystem) -> None:
    counter = system.spawn(Counter, 5)
    with pytest.raises(TypeError, match="unsupported operand"):  # raised inside add, not by the arguments
        counter.proxy().add("x").result(timeout=5)
    assert counter.proxy().count.result(timeout=5) == 5  # restarted: a new Counter(5)
    assert system.statistics()["failures"] == 1


def test_async_methods_run_on_sync_and_async_actors_in_order(system: rayka.ActorSystem) -> None:
    counter = system.spawn(Counter).proxy()
    replies = [counter.add_later(1), counter.add(10), counter.add_later(100)]
    assert [reply.result(timeout=5) for reply in replies] == [1, 11, 111]
    receiver = system.spawn(AsyncReceiver)
    receiver.tell("a")
    assert receiver.proxy().seen_so_far().result(timeout=5) == ["a"]
    receiver.tell("b")
    assert receiver.proxy().seen_after_a_step().result(timeout=5) == ["a", "b"]


def test_a_blocking_actors_methods_run_on_a_worker_thread(system: rayka.ActorSystem) -> None:
    here = system.spawn(Threaded).proxy().where().result(timeout=5)
    assert here != threading.get_ident() and here != system._loop_thread


def test_typed_call_and_cast_use_the_methods_name(system: rayka.ActorSystem) -> None:
    counter = system.spawn(Counter)
    counter.cast(Counter.add, 3)
    assert counter.call(Counter.add_later, 4).result(timeout=5) == 7
    with pytest.raises(TypeError, match="needs a method of the actor's class"):
        counter.call(lambda self: 1)


def test_await_a_proxy_call_and_an_attribute_read_in_asyncio_code(system: rayka.ActorSystem) -> None:
    proxy = system.spawn(Counter, 1).proxy()

    async def main() -> tuple:
        return await proxy.add(1), await proxy.count

    assert asyncio.run(main()) == (2, 2)


def test_proxies_compare_by_actor_and_pickle_as_their_ref_does(system: rayka.ActorSystem) -> None:
    counter = system.spawn(Counter)
    assert counter.proxy() == counter.proxy() and len({counter.proxy(), counter.proxy()}) == 1
    assert repr(counter.proxy()) == f"<Proxy of {counter.path}>"
    with pytest.raises(TypeError, match="belongs to an embedded actor system"):  # as the ref itself
        cloudpickle.dumps(counter.proxy())


def test_a_class_with_neither_receive_nor_methods_is_refused_at_spawn(system: rayka.ActorSystem) -> None:
    class Empty(rayka.Actor):
        pass

    with pytest.raises(TypeError, match="Empty has no receive\\(\\) and no public methods"):
        system.spawn(Empty)
