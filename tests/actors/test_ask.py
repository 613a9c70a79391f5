"""ask: replies, errors, timeouts, stopped targets, and use from asyncio code and from inside actors."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from .actorkit import WAIT, Gate, Gated

import rayka
from rayka import Actor, ActorRef, ActorStopped, ActorSystem, AskTimeout, Reply

pytestmark = pytest.mark.timeout(30)


class Boom(Exception):
    """A user exception that must reach the asker as itself."""


class Calc(Actor):
    def receive(self, message: Any) -> Any:
        match message:
            case ("add", a, b):
                return a + b
            case ("raise", error):
                raise error
            case "none":
                return None
        return message


class Silent(Actor):
    """Never answers: its async handler waits until cancelled (0.1 s into its stop)."""

    shutdown_timeout = 0.1

    async def receive(self, message: Any) -> Any:
        await asyncio.Event().wait()


class AsyncRelay(Actor):
    """An async handler that asks another actor and answers with its reply plus one."""

    async def receive(self, message: Any) -> Any:
        target, value = message
        return await target.ask(value) + 1


class SyncResultInside(Actor):
    """A sync handler that (wrongly) blocks on an ask's result."""

    def receive(self, message: Any) -> Any:
        return message.ask(("add", 1, 1)).result(timeout=1)


def test_ask_resolves_to_the_handlers_return_value(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    reply = calc.ask(("add", 2, 3))
    assert isinstance(reply, Reply)
    assert reply.result(WAIT) == 5
    assert reply.done()
    assert calc.ask("none").result(WAIT) is None


def test_a_handler_exception_is_raised_to_the_asker_as_the_same_exception(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    error = Boom("bad input")
    with pytest.raises(Boom, match="bad input") as caught:
        calc.ask(("raise", error)).result(WAIT)
    assert caught.value is error
    assert calc.ask(("add", 1, 1)).result(WAIT) == 2  # restarted by the default strategy, still answering


def test_exception_returns_the_handler_error_without_raising(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    assert isinstance(calc.ask(("raise", KeyError("k"))).exception(WAIT), KeyError)
    assert calc.ask(("add", 1, 2)).exception(WAIT) is None


def test_an_ask_the_handler_does_not_answer_in_time_raises_AskTimeout_which_is_a_TimeoutError(
        system: ActorSystem) -> None:
    silent = system.spawn(Silent)
    reply = silent.ask("anything", timeout=0.05)
    with pytest.raises(AskTimeout) as caught:
        reply.result(WAIT)
    assert isinstance(caught.value, TimeoutError)
    assert reply.done()


def test_waiting_less_than_the_asks_own_timeout_raises_but_leaves_the_ask_pending(system: ActorSystem) -> None:
    gate = Gate()
    gated = system.spawn(Gated, gate)
    reply = gated.ask("gate", timeout=WAIT)
    gate.wait_entered()
    with pytest.raises(AskTimeout, match="still pending"):
        reply.result(timeout=0.01)
    gate.release.set()
    assert reply.result(WAIT) == "opened"


def test_an_ask_to_a_stopped_actor_raises_ActorStopped(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    calc.stop()
    assert system.wait_terminated(calc, WAIT)
    reply = calc.ask(("add", 1, 1))
    assert reply.done()
    with pytest.raises(ActorStopped):
        reply.result(WAIT)


def test_an_ask_still_queued_when_its_target_stops_raises_ActorStopped(system: ActorSystem) -> None:
    gate = Gate()
    gated = system.spawn(Gated, gate)
    gated.tell("gate")
    gate.wait_entered()
    queued = gated.ask("queued", timeout=WAIT)
    gated.stop()
    gate.release.set()
    with pytest.raises(ActorStopped):
        queued.result(WAIT)


def test_an_ask_being_handled_when_its_target_stops_raises_ActorStopped(system: ActorSystem) -> None:
    silent = system.spawn(Silent)
    reply = silent.ask("forever", timeout=None)
    silent.ask("queued behind", timeout=None)
    silent.stop()
    with pytest.raises(ActorStopped):
        reply.result(WAIT)


def test_a_negative_ask_timeout_raises_ValueError(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    with pytest.raises(ValueError, match="timeout"):
        calc.ask("x", timeout=-1)
    pending = system.spawn(Silent).ask("x")
    with pytest.raises(ValueError, match="timeout"):
        pending.result(timeout=-1)


def test_an_ask_is_awaitable_from_asyncio_code_in_the_main_thread(system: ActorSystem) -> None:
    calc = system.spawn(Calc)

    async def main() -> list[Any]:
        one = await calc.ask(("add", 1, 2))
        many = await asyncio.gather(*(calc.ask(("add", i, i)) for i in range(50)))
        return [one, *many]

    assert asyncio.run(main()) == [3, *(2 * i for i in range(50))]


def test_an_awaited_ask_raises_the_handler_error_and_AskTimeout(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    silent = system.spawn(Silent)

    async def main() -> None:
        with pytest.raises(Boom):
            await calc.ask(("raise", Boom()))
        with pytest.raises(AskTimeout):
            await silent.ask("x", timeout=0.05)

    asyncio.run(main())


def test_an_async_receive_can_await_an_ask_to_another_actor(system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    relay = system.spawn(AsyncRelay)
    assert relay.ask((calc, ("add", 20, 21))).result(WAIT) == 42


def test_result_inside_a_sync_receive_raises_a_clear_RuntimeError_instead_of_deadlocking(
        system: ActorSystem) -> None:
    calc = system.spawn(Calc)
    blocker = system.spawn(SyncResultInside)
    with pytest.raises(RuntimeError, match="await"):
        blocker.ask(calc).result(WAIT)


def test_the_actor_system_works_from_inside_a_running_event_loop() -> None:
    async def main() -> tuple[Any, ...]:
        with ActorSystem("in-loop") as system:
            calc: ActorRef = system.spawn(Calc, name="calc")
            calc.tell(("add", 0, 0))
            looked_up = system.lookup("calc")
            direct = await calc.ask(("add", 2, 2))
            blocking = calc.ask(("add", 3, 3)).result(WAIT)  # blocks this loop briefly, but no deadlock
            return direct, blocking, looked_up == calc

    assert asyncio.run(main()) == (4, 6, True)


def test_done_callbacks_run_once_when_resolved_and_at_once_when_already_resolved(system: ActorSystem) -> None:
    gate = Gate()
    gated = system.spawn(Gated, gate)
    called: list = []
    first_done = threading.Event()
    reply = gated.ask("gate")
    gate.wait_entered()
    reply.add_done_callback(lambda r: (called.append(("first", r.result(0))), first_done.set()))
    gate.release.set()
    assert first_done.wait(WAIT)
    reply.add_done_callback(lambda r: called.append(("late", r.result(0))))
    assert called == [("first", "opened"), ("late", "opened")]


def test_an_awaited_ask_with_a_far_deadline_expires_through_the_shared_sweep(system: ActorSystem, monkeypatch) -> None:
    import asyncio

    import rayka.actors._reply as reply_module

    monkeypatch.setattr(reply_module, "_EXACT_BELOW", 0.01)  # so a 0.2 s deadline counts as far off

    class Silent(rayka.Actor):
        async def receive(self, message):
            await asyncio.Event().wait()

    ref = system.spawn(Silent)

    async def ask() -> None:
        await ref.ask("anyone?", timeout=0.2)

    with pytest.raises(rayka.AskTimeout):
        asyncio.run(asyncio.wait_for(ask(), timeout=5))
