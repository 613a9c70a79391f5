"""The local benchmark's Pykka 4 side (one thread per actor), and helpers shared by every side.

Each ``pykka_*`` function runs one repetition of one case and returns its raw
figures, with the same keys as the rayka side in ``local.py``. Pykka actors
are stopped with ``pykka.ActorRegistry.stop_all()`` whatever happens. Pykka
and psutil are imported when first needed, so importing this module needs
neither. The bare-asyncio side lives in ``_baseline.py``.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

from ._report import percentile

__all__ = [
    "Countdown",
    "READY",
    "WAIT",
    "pykka_ask_actor",
    "pykka_ask_thread",
    "pykka_fan_out",
    "pykka_spawn",
    "pykka_tell_actor",
    "pykka_tell_thread",
    "rss",
    "wait",
]

WAIT = 120.0  # seconds any one measurement may take before it counts as hung
READY = "ready?"  # answered, not counted: makes sure an actor is up before the clock starts
_now = time.perf_counter


def rss() -> int:
    """Resident set size of this process in bytes (psutil)."""
    import psutil

    return psutil.Process().memory_info().rss


def wait(event: threading.Event, what: str) -> None:
    if not event.wait(WAIT):
        raise RuntimeError(f"{what}: not finished after {WAIT:.0f} s (hung?)")


class Countdown:
    """Sets ``event`` when ``hit`` has been called ``n`` times; thread-safe when ``locked``."""

    __slots__ = ("left", "event", "lock")

    def __init__(self, n: int, locked: bool) -> None:
        self.left = n
        self.event = threading.Event()
        self.lock = threading.Lock() if locked else None

    def hit(self) -> None:
        if self.lock is None:
            self.left -= 1
            if not self.left:
                self.event.set()
            return
        with self.lock:
            self.left -= 1
            if not self.left:
                self.event.set()


# -- Pykka ------------------------------------------------------------------------
def _pykka_classes() -> dict[str, Any]:
    import pykka

    class Counter(pykka.ThreadingActor):
        def __init__(self, countdown: Countdown) -> None:
            super().__init__()
            self.hit = countdown.hit

        def on_receive(self, message: Any) -> Any:
            if message is READY:
                return True
            self.hit()
            return None

    class Sender(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            if message is READY:
                return True
            n, target = message
            tell = target.tell
            for i in range(n):
                tell(i)

    class Asker(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            if message is READY:
                return True
            n, target = message
            ask = target.ask
            for i in range(n):
                ask(i)
            return n

    class Echo(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            return message

        def echo(self, value: Any) -> Any:
            return value

    class Caller(pykka.ThreadingActor):
        def on_receive(self, message: Any) -> Any:
            if message is READY:
                return True
            n, target = message
            echo = target.proxy().echo
            for i in range(n):
                echo(i).get()
            return n

    return {"Counter": Counter, "Sender": Sender, "Asker": Asker, "Echo": Echo, "Caller": Caller}


def _stop_pykka() -> None:
    import pykka

    pykka.ActorRegistry.stop_all(block=True, timeout=WAIT)


def pykka_tell_actor(n: int) -> dict[str, float]:
    """One Pykka actor tells ``n`` messages to another from inside its handler."""
    classes = _pykka_classes()
    try:
        countdown = Countdown(n, locked=False)  # only the receiver's thread counts
        receiver = classes["Counter"].start(countdown)
        sender = classes["Sender"].start()
        sender.ask(READY, timeout=WAIT)  # both threads up before the clock starts
        receiver.ask(READY, timeout=WAIT)
        started = _now()
        sender.tell((n, receiver))
        wait(countdown.event, "pykka tell actor->actor")
        return {"msgs_per_s": n / (_now() - started)}
    finally:
        _stop_pykka()


def pykka_tell_thread(n: int) -> dict[str, float]:
    """The main thread tells ``n`` messages to one Pykka actor."""
    classes = _pykka_classes()
    try:
        countdown = Countdown(n, locked=False)
        receiver = classes["Counter"].start(countdown)
        receiver.ask(READY, timeout=WAIT)
        tell = receiver.tell
        started = _now()
        for i in range(n):
            tell(i)
        wait(countdown.event, "pykka tell main->actor")
        return {"msgs_per_s": n / (_now() - started)}
    finally:
        _stop_pykka()


def pykka_ask_actor(n: int) -> dict[str, float]:
    """A Pykka actor asks another ``n`` times, blocking inside ``on_receive`` for each answer."""
    classes = _pykka_classes()
    try:
        echo = classes["Echo"].start()
        asker = classes["Asker"].start()
        echo.ask(READY, timeout=WAIT)
        asker.ask(READY, timeout=WAIT)
        started = _now()
        asker.ask((n, echo), timeout=WAIT)
        return {"round_trips_per_s": n / (_now() - started)}
    finally:
        _stop_pykka()


def pykka_call_actor(n: int) -> dict[str, float]:
    """A Pykka actor calls another's method ``n`` times through a proxy, blocking on each future."""
    classes = _pykka_classes()
    try:
        echo = classes["Echo"].start()
        caller = classes["Caller"].start()
        echo.ask(READY, timeout=WAIT)
        caller.ask(READY, timeout=WAIT)
        started = _now()
        caller.ask((n, echo), timeout=WAIT)
        return {"round_trips_per_s": n / (_now() - started)}
    finally:
        _stop_pykka()


def pykka_gather(n: int) -> dict[str, float]:
    """``n`` non-blocking asks to a Pykka actor, then ``pykka.get_all`` of their futures."""
    import pykka

    classes = _pykka_classes()
    try:
        echo = classes["Echo"].start()
        ask = echo.ask
        ask(None, timeout=WAIT)
        started = _now()
        results = list(pykka.get_all([ask(i, block=False) for i in range(n)], timeout=WAIT))
        elapsed = _now() - started
        if results[-1] != n - 1:
            raise RuntimeError("pykka gather: wrong results")
        return {"total_ms": elapsed * 1e3}
    finally:
        _stop_pykka()


def pykka_ask_thread(n: int) -> dict[str, float]:
    """The main thread asks a Pykka actor ``n`` times, one at a time."""
    classes = _pykka_classes()
    try:
        echo = classes["Echo"].start()
        ask = echo.ask
        ask(None, timeout=WAIT)
        times = []
        for i in range(n):
            started = _now()
            ask(i, timeout=WAIT)
            times.append(_now() - started)
        times.sort()
        return {"median_us": percentile(times, 0.5) * 1e6, "p99_us": percentile(times, 0.99) * 1e6}
    finally:
        _stop_pykka()


def pykka_fan_out(n: int) -> dict[str, float]:
    """The main thread tells one message to each of ``n`` Pykka actors; time until all handled."""
    classes = _pykka_classes()
    try:
        countdown = Countdown(n, locked=True)
        refs = [classes["Counter"].start(countdown) for _ in range(n)]
        for ref in refs:
            ref.ask(READY, timeout=WAIT)
        started = _now()
        for ref in refs:
            ref.tell(None)
        wait(countdown.event, "pykka fan-out")
        elapsed = _now() - started
        return {"total_ms": elapsed * 1e3, "msgs_per_s": n / elapsed}
    finally:
        _stop_pykka()


def pykka_spawn(n: int) -> dict[str, float]:
    """Start ``n`` Pykka actors; memory is the RSS growth once each has answered one ask."""
    classes = _pykka_classes()
    echo = classes["Echo"]
    try:
        gc.collect()
        before = rss()
        started = _now()
        refs = [echo.start() for _ in range(n)]
        elapsed = _now() - started
        for ref in refs:
            ref.ask(None, timeout=WAIT)
        grown = rss() - before
        return {"actors_per_s": n / elapsed, "us_per_actor": elapsed / n * 1e6, "bytes_per_actor": grown / n}
    finally:
        _stop_pykka()
