"""Measure the embedded runtime side by side with Pykka and bare asyncio, in one process.

Run ``python -m rayka.bench.local [--quick] [--repeat N] [--json PATH]``.
Each case runs ``repeat`` times for each peer (interleaved: rayka, pykka,
asyncio, then again); the table shows the median and the min-max. Cases:

1. tell actor->actor: one actor tells N messages to another from inside its
   handler; timed until the receiver has handled the last one (it sets a
   ``threading.Event``).
2. tell from the main thread into one actor, timed the same way.
3. ask actor->actor: an async-receive actor awaits ``target.ask(i)`` N times
   (Pykka: ``other.ask(i)`` blocking inside ``on_receive``).
4. ask from the main thread, one at a time: median and p99 per round trip.
4c. gather: the main thread asks one actor ``n`` times and waits for all the
   replies: ``rayka.gather(replies).result()``, ``asyncio.gather`` over the
   same kind of rayka replies in a fresh loop, ``pykka.get_all`` over Pykka
   futures; timed from the first ask to the last result.
4d. metrics cost: tell actor->actor (case 1) in systems with handler timing
   off and on (``metrics=True``), five of each alternating, medians.
4b. method call actor->actor: the same as 3 through a proxy (``await
   proxy.echo(i)``; Pykka: ``proxy.echo(i).get()``); rayka also runs plain
   asks in the same system, interleaved, for the cost of a call over an ask.
5. fan-out: the main thread tells one message to each of 10,000 actors
   (Pykka: 1,000, one thread each), timed until all are handled.
6. spawn 100,000 actors (Pykka: 1,000): actors/s from an untraced pass, and
   memory per idle actor: tracemalloc in a second pass for rayka and asyncio,
   RSS growth in a fresh process for Pykka (its threads' stacks are not
   Python allocations).
7. 1,000,000 idle rayka actors in a fresh process (100,000 with ``--quick``):
   spawn time, RSS growth per actor, 1,000 asks to random ones, shutdown time.

The table is followed by one JSON line with every figure (also written to
``--json PATH``). What the asyncio baselines are: see ``_baseline.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import random
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Callable, Iterator

import rayka

from . import _baseline as baseline
from . import _peers as peers
from ._report import PEERS as _PEERS
from ._report import Row, percentile, render_table, summarize

__all__ = ["CASES", "main", "million", "render", "run"]

_now = time.perf_counter

# case key -> peer -> (full size, --quick size)
_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "tell_actor": {"rayka": (500_000, 50_000), "pykka": (100_000, 10_000), "asyncio": (500_000, 50_000)},
    "tell_thread": {"rayka": (300_000, 30_000), "pykka": (100_000, 10_000), "asyncio": (300_000, 30_000)},
    "ask_actor": {"rayka": (30_000, 3_000), "pykka": (5_000, 500), "asyncio": (50_000, 5_000)},
    "call_actor": {"rayka": (30_000, 3_000), "pykka": (5_000, 500)},
    "metrics_cost": {"rayka": (500_000, 50_000)},
    "gather": {"rayka": (10_000, 2_000), "pykka": (10_000, 2_000), "asyncio": (10_000, 2_000)},
    "ask_thread": {"rayka": (5_000, 1_000), "pykka": (3_000, 500), "asyncio": (5_000, 1_000)},
    "fan_out": {"rayka": (10_000, 10_000), "pykka": (1_000, 200), "asyncio": (10_000, 10_000)},
    "spawn": {"rayka": (100_000, 20_000), "pykka": (1_000, 200), "asyncio": (100_000, 20_000)},
    "million": {"rayka": (1_000_000, 100_000)},
}
_SAMPLE = 1_000  # asks to random actors in the million case
_MIN_SIZE = 10


# -- rayka actors -----------------------------------------------------------------
class _Counter(rayka.Actor):
    def __init__(self, countdown: Any) -> None:
        self.hit = countdown.hit

    def receive(self, message: Any) -> Any:
        if message is peers.READY:
            return True
        self.hit()
        return None


class _Sender(rayka.Actor):
    def receive(self, message: Any) -> Any:
        if message is peers.READY:
            return True
        n, target = message
        tell = target.tell
        for i in range(n):
            tell(i)
        return None


class _Asker(rayka.Actor):
    async def receive(self, message: Any) -> Any:
        if message is peers.READY:
            return True
        n, target = message
        ask = target.ask
        for i in range(n):
            await ask(i)
        return n


class _Caller(rayka.Actor):
    async def receive(self, message: Any) -> Any:
        if message is peers.READY:
            return True
        n, target = message
        echo = target.proxy().echo
        for i in range(n):
            await echo(i)
        return n


class _Idle(rayka.Actor):
    def receive(self, message: Any) -> Any:
        return message

    def echo(self, value: Any) -> Any:
        return value


@contextlib.contextmanager
def _system(name: str = "bench", metrics: bool = False) -> Iterator[rayka.ActorSystem]:
    system = rayka.ActorSystem(name, metrics=metrics)
    try:
        yield system
    finally:
        clean = system.shutdown(timeout=peers.WAIT)
    if not clean:
        raise RuntimeError(f"rayka: system {name!r} did not shut down cleanly within {peers.WAIT:.0f} s")


def _rayka_tell_actor(n: int, metrics: bool = False) -> dict[str, float]:
    """One rayka actor tells ``n`` messages to another from inside its handler."""
    with _system(metrics=metrics) as system:
        countdown = peers.Countdown(n, locked=False)  # counted on the loop thread only
        receiver = system.spawn(_Counter, countdown)
        sender = system.spawn(_Sender)
        sender.ask(peers.READY).result(peers.WAIT)
        receiver.ask(peers.READY).result(peers.WAIT)
        started = _now()
        sender.tell((n, receiver))
        peers.wait(countdown.event, "rayka tell actor->actor")
        return {"msgs_per_s": n / (_now() - started)}


def _rayka_metrics_cost(n: int) -> dict[str, float]:
    """Tell actor->actor with handler timing off and on (``ActorSystem(metrics=True)``): five systems of each,
    alternating, ``n / 2`` messages each; the medians."""
    off, on = [], []
    for _ in range(5):
        off.append(_rayka_tell_actor(n // 2)["msgs_per_s"])
        on.append(_rayka_tell_actor(n // 2, metrics=True)["msgs_per_s"])
    rate_off, rate_on = sorted(off)[2], sorted(on)[2]
    return {"msgs_per_s": rate_on, "off_msgs_per_s": rate_off, "on_over_off": rate_on / rate_off}


def _rayka_tell_thread(n: int) -> dict[str, float]:
    """The main thread tells ``n`` messages to one rayka actor."""
    with _system() as system:
        countdown = peers.Countdown(n, locked=False)
        receiver = system.spawn(_Counter, countdown)
        receiver.ask(peers.READY).result(peers.WAIT)
        tell = receiver.tell
        started = _now()
        for i in range(n):
            tell(i)
        peers.wait(countdown.event, "rayka tell main->actor")
        return {"msgs_per_s": n / (_now() - started)}


def _rayka_ask_actor(n: int) -> dict[str, float]:
    """An async-receive actor awaits ``target.ask(i)`` ``n`` times (default ask timeout)."""
    with _system() as system:
        echo = system.spawn(_Idle)
        asker = system.spawn(_Asker)
        asker.ask(peers.READY).result(peers.WAIT)
        started = _now()
        asker.ask((n, echo), timeout=peers.WAIT).result()
        return {"round_trips_per_s": n / (_now() - started)}


def _rayka_call_actor(n: int) -> dict[str, float]:
    """``n`` proxy calls actor->actor, and ``n`` plain asks in the same system (in halves, interleaved)."""
    with _system() as system:
        echo = system.spawn(_Idle)
        caller = system.spawn(_Caller)
        asker = system.spawn(_Asker)
        caller.ask(peers.READY).result(peers.WAIT)
        asker.ask(peers.READY).result(peers.WAIT)
        spent = {"call": 0.0, "ask": 0.0}
        for _ in range(2):
            for kind, actor in (("call", caller), ("ask", asker)):
                started = _now()
                actor.ask((n // 2, echo), timeout=peers.WAIT).result()
                spent[kind] += _now() - started
        return {"round_trips_per_s": n / spent["call"], "ask_round_trips_per_s": n / spent["ask"],
                "call_over_ask": spent["call"] / spent["ask"]}


def _gather_ms(n: int, collect: Callable[[list], list], who: str) -> dict[str, float]:
    """``n`` asks from the main thread, then ``collect(replies)``: the time from the first ask to the results."""
    with _system() as system:
        ask = system.spawn(_Idle).ask
        ask(peers.READY).result(peers.WAIT)
        started = _now()
        results = collect([ask(i) for i in range(n)])
        elapsed = _now() - started
    if results[-1] != n - 1:
        raise RuntimeError(f"{who}: wrong results")
    return {"total_ms": elapsed * 1e3}


def _rayka_gather(n: int) -> dict[str, float]:
    """``rayka.gather(replies).result()``."""
    return _gather_ms(n, lambda replies: rayka.gather(replies).result(peers.WAIT), "rayka gather")


def _asyncio_gather(n: int) -> dict[str, float]:
    """The same replies awaited with ``asyncio.gather`` in a fresh loop (each reply becomes a task)."""
    import asyncio

    async def wait_all(replies: list) -> list:
        return await asyncio.gather(*replies)

    return _gather_ms(n, lambda replies: asyncio.run(wait_all(replies)), "asyncio gather")


def _rayka_ask_thread(n: int) -> dict[str, float]:
    """The main thread asks one actor ``n`` times: ``ref.ask(i).result()``."""
    with _system() as system:
        echo = system.spawn(_Idle)
        ask = echo.ask
        ask(peers.READY).result(peers.WAIT)
        times = []
        for i in range(n):
            started = _now()
            ask(i).result()
            times.append(_now() - started)
        times.sort()
        return {"median_us": percentile(times, 0.5) * 1e6, "p99_us": percentile(times, 0.99) * 1e6}


def _rayka_fan_out(n: int) -> dict[str, float]:
    """The main thread tells one message to each of ``n`` actors; time until all are handled."""
    with _system() as system:
        countdown = peers.Countdown(n, locked=False)
        refs = [system.spawn(_Counter, countdown) for _ in range(n)]
        refs[-1].ask(peers.READY).result(peers.WAIT)
        started = _now()
        for ref in refs:
            ref.tell(None)
        peers.wait(countdown.event, "rayka fan-out")
        elapsed = _now() - started
        return {"total_ms": elapsed * 1e3, "msgs_per_s": n / elapsed}


def _rayka_spawn_pass(n: int, traced: bool) -> dict[str, float]:
    with _system() as system:
        gc.collect()
        if traced:
            tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0] if traced else 0
            started = _now()
            refs = [system.spawn(_Idle) for _ in range(n)]
            elapsed = _now() - started
            grown = tracemalloc.get_traced_memory()[0] - before if traced else 0
        finally:
            if traced:
                tracemalloc.stop()
        if refs[n // 2].ask(n).result(peers.WAIT) != n:
            raise RuntimeError("rayka spawn: a spawned actor answered wrong")
    if traced:
        return {"bytes_per_actor": grown / n}
    return {"actors_per_s": n / elapsed, "us_per_actor": elapsed / n * 1e6}


def _rayka_spawn(n: int) -> dict[str, float]:
    """Spawn ``n`` idle actors twice: timed without tracing, then under tracemalloc for memory."""
    return {**_rayka_spawn_pass(n, traced=False), **_rayka_spawn_pass(n, traced=True)}


def _asyncio_spawn(n: int) -> dict[str, float]:
    """The same two passes for bare-asyncio mini-actors."""
    return {**baseline.asyncio_spawn(n, traced=False), **baseline.asyncio_spawn(n, traced=True)}


def million(n: int, sample: int) -> dict[str, float]:
    """Spawn ``n`` idle actors, ask ``sample`` random ones, shut down; run it in a fresh process."""
    gc.collect()
    system = rayka.ActorSystem("bench-million")
    clean = False
    try:
        before = peers.rss()
        started = _now()
        refs = [system.spawn(_Idle) for _ in range(n)]
        spawn_s = _now() - started
        grown = peers.rss() - before
        alive = system.statistics()["actors"]
        picks = random.sample(range(n), sample)
        started = _now()
        replies = [refs[i].ask(i, timeout=peers.WAIT) for i in picks]
        wrong = sum(reply.result() != i for reply, i in zip(replies, picks))
        ask_ms = (_now() - started) * 1e3
        if wrong:
            raise RuntimeError(f"rayka million: {wrong} of {sample} asks answered wrong")
        del replies
        started = _now()
        clean = system.shutdown(timeout=peers.WAIT)
        shutdown_s = _now() - started
        if not clean:
            raise RuntimeError(f"rayka million: shutdown not clean after {shutdown_s:.1f} s")
    finally:
        if not clean:
            system.shutdown(timeout=peers.WAIT)
    return {"spawn_s": spawn_s, "actors_per_s": n / spawn_s, "bytes_per_actor": grown / n,
            "actors_alive": alive, "ask_sample_ms": ask_ms, "shutdown_s": shutdown_s}


def _in_child(module: str, function: str, *args: int) -> dict[str, float]:
    """Run ``module.function(*args)`` in a fresh interpreter (clean RSS) and return its figures."""
    code = (f"import json, sys; from {module} import {function} as f; "
            "print(json.dumps(f(*map(int, sys.argv[1:]))))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=4 * peers.WAIT)
    if done.returncode != 0:
        raise RuntimeError(f"{function} in a child process exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the cases ----------------------------------------------------------------------
_Case = dict[str, Callable[[int], dict[str, float]]]

CASES: dict[str, tuple[str, _Case]] = {
    "tell_actor": ("tell actor->actor 1->1", {
        "rayka": _rayka_tell_actor, "pykka": peers.pykka_tell_actor, "asyncio": baseline.asyncio_tell}),
    "tell_thread": ("tell main thread->actor", {
        "rayka": _rayka_tell_thread, "pykka": peers.pykka_tell_thread, "asyncio": baseline.asyncio_tell_thread}),
    "ask_actor": ("ask actor->actor", {
        "rayka": _rayka_ask_actor, "pykka": peers.pykka_ask_actor, "asyncio": baseline.asyncio_ask_pingpong}),
    "call_actor": ("method call actor->actor", {"rayka": _rayka_call_actor, "pykka": peers.pykka_call_actor}),
    "metrics_cost": ("tell actor->actor, metrics timing on", {"rayka": _rayka_metrics_cost}),
    "gather": ("gather the replies of n asks", {
        "rayka": _rayka_gather, "pykka": peers.pykka_gather, "asyncio": _asyncio_gather}),
    "ask_thread": ("ask main thread->actor", {
        "rayka": _rayka_ask_thread, "pykka": peers.pykka_ask_thread, "asyncio": baseline.asyncio_ask_thread}),
    "fan_out": ("fan-out, one message to each actor", {
        "rayka": _rayka_fan_out, "pykka": peers.pykka_fan_out, "asyncio": baseline.asyncio_fan_out}),
    "spawn": ("spawn idle actors", {  # pykka in a fresh process: glibc keeps exited threads' stacks resident
        "rayka": _rayka_spawn, "pykka": lambda n: _in_child("rayka.bench._peers", "pykka_spawn", n),
        "asyncio": _asyncio_spawn}),
    "million": ("idle rayka actors in one process", {
        "rayka": lambda n: _in_child("rayka.bench.local", "million", n, min(_SAMPLE, n))}),
}


def _rows(report: dict[str, Any]) -> list[Row]:
    cases = report["cases"]

    def n(case: str, peer: str = "rayka") -> str:
        return f"{cases[case]['n'].get(peer, 0):,}" if case in cases else "?"

    kib = 1 / 1024
    million_n = n("million")
    return [
        Row("tell actor->actor 1->1 (msgs/s)", "tell_actor", "msgs_per_s"),
        Row("tell main thread->actor (msgs/s)", "tell_thread", "msgs_per_s"),
        Row("ask actor->actor (round trips/s)", "ask_actor", "round_trips_per_s"),
        Row("method call actor->actor, proxy (round trips/s)", "call_actor", "round_trips_per_s"),
        Row("  its time over a plain ask's, same run (x)", "call_actor", "call_over_ask", ratio=False),
        Row("tell actor->actor, handler timing on (msgs/s)", "metrics_cost", "msgs_per_s", ratio=False),
        Row("  its rate over timing off, same run (x)", "metrics_cost", "on_over_off", ratio=False),
        Row(f"gather {n('gather')} replies: asks + gather (ms; asyncio: asyncio.gather of rayka replies)",
            "gather", "total_ms"),
        Row("ask main thread->actor, median (µs)", "ask_thread", "median_us"),
        Row("ask main thread->actor, p99 (µs)", "ask_thread", "p99_us"),
        Row(f"fan-out to {n('fan_out')} actors, pykka {n('fan_out', 'pykka')}: total (ms)", "fan_out", "total_ms",
            ratio=False),
        Row("fan-out (msgs/s)", "fan_out", "msgs_per_s"),
        Row(f"spawn {n('spawn')} actors, pykka {n('spawn', 'pykka')} (actors/s)", "spawn", "actors_per_s"),
        Row("memory per idle actor (KiB; tracemalloc, pykka: RSS)", "spawn", "bytes_per_actor", scale=kib),
        Row(f"{million_n} idle actors: spawn all (s)", "million", "spawn_s", ratio=False),
        Row(f"{million_n} idle actors: spawn (actors/s)", "million", "actors_per_s", ratio=False),
        Row(f"{million_n} idle actors: memory per actor (KiB, RSS)", "million", "bytes_per_actor", scale=kib,
            ratio=False),
        Row(f"{million_n} idle actors: ask {_sample_label(cases)} random ones (ms)", "million", "ask_sample_ms",
            ratio=False),
        Row(f"{million_n} idle actors: shutdown (s)", "million", "shutdown_s", ratio=False),
    ]


def _sample_label(cases: dict[str, Any]) -> str:
    return f"{min(_SAMPLE, cases['million']['n']['rayka']):,}" if "million" in cases else "?"


def _size(case: str, peer: str, quick: bool, scale: float) -> int:
    full, small = _SIZES[case][peer]
    return max(_MIN_SIZE, int((small if quick else full) * scale))


def run(quick: bool = False, repeat: int = 3, progress: Callable[[str], Any] | None = None, *,
        scale: float = 1.0, cases: list[str] | None = None) -> dict[str, Any]:
    """Run the cases and return the report.

    Args:
        quick: small sizes (under ~30 s in all); the million case uses 100,000 actors.
        repeat: measurements per case and peer; the report keeps the median, min, max.
        progress: called with a short text before each measurement.
        scale: multiply every size by this (tests use 0.01).
        cases: keys of ``CASES`` to run; all by default.

    Returns:
        ``{"benchmark": "local", "cases": {key: {"label", "n", "rayka", "pykka", "asyncio"}}, ...}``
        where each peer holds ``{metric: {"median", "min", "max", "samples"}}``, or ``{"error": text}``.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat!r}")
    chosen = list(CASES) if cases is None else cases
    unknown = [key for key in chosen if key not in CASES]
    if unknown:
        raise ValueError(f"unknown cases {unknown}; pick from {list(CASES)}")
    total = sum(len(CASES[key][1]) for key in chosen) * repeat
    step = 0
    began = _now()
    report_cases: dict[str, Any] = {}
    for key in chosen:
        label, runners = CASES[key]
        sizes = {peer: _size(key, peer, quick, scale) for peer in runners}
        samples: dict[str, list[dict[str, float]]] = {peer: [] for peer in runners}
        errors: dict[str, str] = {}
        for attempt in range(repeat):
            for peer, runner in runners.items():
                step += 1
                if progress is not None:
                    progress(f"[{step}/{total}] {label}: {peer}, n={sizes[peer]:,}, run {attempt + 1}/{repeat}")
                if peer in errors:
                    continue
                gc.collect()
                try:
                    samples[peer].append(runner(sizes[peer]))
                except Exception as error:  # noqa: BLE001 - recorded in the report, the run goes on
                    errors[peer] = f"{type(error).__name__}: {error}"
        entry: dict[str, Any] = {"label": label, "n": sizes}
        for peer in runners:
            if peer in errors:
                entry[peer] = {"error": errors[peer]}
            else:
                metrics = samples[peer][0].keys()
                entry[peer] = {metric: summarize([sample[metric] for sample in samples[peer]]) for metric in metrics}
        report_cases[key] = entry
    return {
        "benchmark": "local",
        "quick": quick,
        "repeat": repeat,
        "scale": scale,
        "seconds": round(_now() - began, 2),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "rayka": rayka.__version__,
        "pykka": _version("pykka"),
        "cases": report_cases,
    }


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# (case, metric, peer, goal, higher is better): the core's targets (issue 12), checked in every run
_GOALS = (
    ("tell actor->actor", "tell_actor", "msgs_per_s", "pykka", 10.0, True),
    ("tell actor->actor", "tell_actor", "msgs_per_s", "asyncio", 0.35, True),
    ("ask actor->actor", "ask_actor", "round_trips_per_s", "asyncio", 0.5, True),
    ("ask main thread->actor, median", "ask_thread", "median_us", "pykka", 1.0, False),
    ("gather of n replies", "gather", "total_ms", "asyncio", 1.0, False),  # issue 13: not slower
    ("method call actor->actor, time over ask", "call_actor", "call_over_ask", None, 1.3, False),  # issue 13
    ("tell actor->actor, timing on over off", "metrics_cost", "on_over_off", None, 0.95, True),  # issue 14
)


def _goals(report: dict[str, Any]) -> list[str]:
    """One line per target: rayka's median as a ratio of the peer's in the same run, and whether it is met."""
    cases = report["cases"]
    lines = []
    for label, case, metric, peer, goal, higher in _GOALS:
        try:
            ours = cases[case]["rayka"][metric]["median"]
            theirs = cases[case][peer][metric]["median"] if peer is not None else 1.0
        except KeyError:
            continue
        ratio = ours / theirs
        met = ratio >= goal if higher else ratio < goal
        kind = "rate" if higher else "time"
        lines.append(f"  {label}: rayka's {kind} = {ratio:.2f} x {peer or 'rayka'}'s "
                     f"(goal {'>=' if higher else '<'} {goal:g}: {'met' if met else 'NOT met'})")
    return lines


def render(report: dict[str, Any], write: Callable[[str], Any] = print) -> None:
    """Write the table for ``report``, the goals, and the notes under it."""
    render_table(report, _rows(report), write)
    targets = _goals(report)
    if targets:
        write("goals, as ratios to the peer in this run (median against median):")
        for line in targets:
            write(line)
    write(f"median (min-max) of {report['repeat']} runs; rayka/pykka = rayka median / pykka median (above 1 is "
          "better for rayka on rates, below 1 on times and memory)")
    write("memory: rayka and asyncio by tracemalloc in an untimed pass; pykka by RSS growth in a fresh process "
          "(thread stacks included); the million case by RSS growth in a fresh process")
    write(f"python {report['python']}, {report['cpu_count']} CPUs, pykka {report['pykka']}, "
          f"{report['seconds']:.1f} s in all")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m rayka.bench.local", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under ~30 s")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case and peer (default: 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the JSON report here")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this (default: 1)")
    parser.add_argument("--case", action="append", choices=list(CASES), help="run only this case (repeatable)")
    args = parser.parse_args(argv)

    def progress(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    report = run(args.quick, args.repeat, progress, scale=args.scale, cases=args.case)
    render(report)
    line = json.dumps(report)
    print(line)
    if args.json:
        with open(args.json, "w") as out:
            out.write(line + "\n")
    if any("error" in (case.get(peer) or {}) for case in report["cases"].values() for peer in case if peer in _PEERS):
        sys.exit(1)


if __name__ == "__main__":
    main()
