"""Cluster benchmark: rayka's transport against raw Ray calls, in one run on one local Ray instance.

    python -m rayka.bench.cluster [--quick] [--repeat N] [--nodes N] [--pairs K] [--json PATH]

Cases: tell across nodes 1->1 (small messages, order kept), ask across nodes
(actor to actor, median µs) and a method call through a proxy interleaved
with it (the cost of a call over an ask), ask from the driver, aggregate tell throughput
with K sender/receiver node pairs, and node loss (kill -> the restarted actor
answers). Raw Ray figures come from :mod:`rayka.bench.ray_raw` on the same
Ray instance. Every Ray process started here is shut down at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import rayka  # noqa: E402
from rayka.bench._report import emit_json  # noqa: E402

__all__ = ["main", "run"]


class _Receiver(rayka.Actor):
    def __init__(self) -> None:
        self.count = 0
        self.last = -1
        self.in_order = True

    def receive(self, message: Any) -> Any:
        if type(message) is int:
            if message != self.last + 1:
                self.in_order = False
            self.last = message
            self.count += 1
            return None
        if message == "count":
            return (self.count, self.in_order)
        if message == "reset":
            self.count, self.last, self.in_order = 0, -1, True
        return message

    def echo(self, value: Any) -> Any:
        return value


class _Sender(rayka.Actor):
    """Sends n numbered tells, waiting for stream room every 1,000, then asks for the count."""

    async def receive(self, message: Any) -> Any:
        target, n = message
        started = time.perf_counter()
        tell = target.tell
        for i in range(n):
            if i % 1000 == 999:
                await target.send(i)
            else:
                tell(i)
        count, in_order = await target.ask("count", timeout=120)
        return count, in_order, time.perf_counter() - started


class _Asker(rayka.Actor):
    async def receive(self, message: Any) -> Any:
        target, n = message
        times = []
        for i in range(n):
            started = time.perf_counter()
            await target.ask(i, timeout=30)
            times.append(time.perf_counter() - started)
        return times


class _Caller(rayka.Actor):
    """Alternates a plain ask and a proxy call to the same actor: (ask times, call times)."""

    async def receive(self, message: Any) -> Any:
        target, n = message
        echo = target.proxy(timeout=30).echo
        asks, calls = [], []
        for i in range(n):
            started = time.perf_counter()
            await target.ask(i, timeout=30)
            asks.append(time.perf_counter() - started)
            started = time.perf_counter()
            await echo(i)
            calls.append(time.perf_counter() - started)
        return asks, calls


def _raw_actor_to_actor_us(n: int) -> float:
    """Median µs of one raw Ray call from inside an async actor to another, awaited (the same shape as an ask)."""
    import ray

    class Echo:
        async def echo(self, x: Any) -> Any:
            return x

    class Caller:
        async def run(self, target: Any, n: int) -> float:
            samples = []
            for i in range(n):
                started = time.perf_counter()
                await target.echo.remote(i)
                samples.append(time.perf_counter() - started)
            return statistics.median(samples) * 1e6

    remote: Any = ray.remote(num_cpus=0)  # Ray actor classes are built at run time: no static type
    echo, caller = remote(Echo).remote(), remote(Caller).remote()
    try:
        return ray.get(caller.run.remote(echo, n))
    finally:
        ray.kill(echo)
        ray.kill(caller)


def _raw_echo(system: Any, near: Any) -> Any:
    """A raw async Ray actor on the Ray node of ``near``'s node runtime (num_cpus=0, like a node runtime)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from rayka.actors.spi import cell_of

    ray_node = system.cluster.infos[cell_of(near).node]["ray_node"]

    class Echo:
        async def echo(self, x: Any) -> Any:
            return x

    actor_class: Any = ray.remote(num_cpus=0)(Echo)
    echo = actor_class.options(scheduling_strategy=NodeAffinitySchedulingStrategy(ray_node, soft=True)).remote()
    ray.get(echo.echo.remote(0))
    return echo


def _hung_node_recovery_ms(system: Any) -> float:
    """SIGSTOP a node runtime: ms until its actor answers from another node (down_after + fencing + restart)."""
    import signal

    runtime = system.cluster
    runtime.wait_rejoined("n1", timeout=60)
    hung = system.spawn(_Receiver, name="hung", node="n1")
    hung.ask("count", timeout=30).result()
    pid = runtime.node_info()["n1"]["pid"]
    stopped = time.perf_counter()
    os.kill(pid, signal.SIGSTOP)
    try:
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            try:
                moved = system.lookup("hung")
            except rayka.ActorNotFound:  # between the downing and the restart
                moved = None
            if moved is not None and moved != hung:
                moved.ask("count", timeout=30).result()
                return (time.perf_counter() - stopped) * 1000
            time.sleep(0.01)
        raise RuntimeError("the hung node's actor did not come back within 60 s")
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def _tell_rate(system: Any, senders: list, receivers: list, n: int) -> dict:
    for receiver in receivers:
        receiver.ask("reset", timeout=30).result()
    started = time.perf_counter()
    replies = [sender.ask((receiver, n), timeout=300) for sender, receiver in zip(senders, receivers)]
    results = [reply.result() for reply in replies]
    elapsed = time.perf_counter() - started
    assert all(count == n and in_order for count, in_order, _ in results), results
    return {"msgs_per_s": len(senders) * n / elapsed, "in_order": True}


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def run(quick: bool = False, repeat: int = 3, nodes: int = 2, pairs: int = 1,
        progress: Callable[[str], Any] | None = None) -> dict:
    """Run every case ``repeat`` times and return the medians (and raw samples)."""
    from . import ray_raw

    say = progress or (lambda text: None)
    n_tell = 50_000 if quick else 400_000
    n_ask = 300 if quick else 2_000
    report: dict[str, Any] = {"repeat": repeat, "quick": quick, "nodes": max(nodes, 2 * pairs),
                              "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    cluster = rayka.RayCluster(nodes=max(nodes, 2 * pairs), num_cpus=os.cpu_count(), down_after=2.0)
    with rayka.ActorSystem("bench", cluster=cluster) as system:
        say("raw Ray baselines")
        report["ray_raw"] = ray_raw.run(quick=quick)
        senders = [system.spawn(_Sender, node=2 * k) for k in range(pairs)]
        receivers = [system.spawn(_Receiver, node=2 * k + 1) for k in range(pairs)]
        import ray

        tell, ask_actor, ask_driver, raw_actor, raw_driver, call_over_ask = [], [], [], [], [], []
        for attempt in range(repeat):
            say(f"tell across nodes ({attempt + 1}/{repeat})")
            tell.append(_tell_rate(system, senders[:1], receivers[:1], n_tell)["msgs_per_s"])
            say(f"ask across nodes ({attempt + 1}/{repeat})")
            asker = system.spawn(_Asker, node=0)
            ask_actor.append(_median_us(asker.ask((receivers[0], n_ask), timeout=300).result()))
            say(f"method call against ask across nodes ({attempt + 1}/{repeat})")
            asks, calls = system.spawn(_Caller, node=0).ask((receivers[0], n_ask), timeout=300).result()
            call_over_ask.append(_median_us(calls) / _median_us(asks))
            samples, raw_samples = [], []
            echo = _raw_echo(system, receivers[0])
            for i in range(n_ask):  # interleaved with a raw call on the same node: both see the same load
                started = time.perf_counter()
                receivers[0].ask(i, timeout=30).result()
                samples.append(time.perf_counter() - started)
                started = time.perf_counter()
                ray.get(echo.echo.remote(i))
                raw_samples.append(time.perf_counter() - started)
            ray.kill(echo)
            ask_driver.append(_median_us(samples))
            raw_driver.append(_median_us(raw_samples))
            raw_actor.append(_raw_actor_to_actor_us(n_ask))
        report["tell_across_nodes_msgs_per_s"] = statistics.median(tell)
        report["tell_samples"] = tell
        report["ask_across_nodes_median_us"] = statistics.median(ask_actor)
        report["call_over_ask_across_nodes"] = statistics.median(call_over_ask)  # goal <= 1.3 (issue 13)
        report["ask_from_driver_median_us"] = statistics.median(ask_driver)
        report["raw_ray_actor_to_actor_call_median_us"] = statistics.median(raw_actor)
        report["raw_driver_call_interleaved_median_us"] = statistics.median(raw_driver)
        if pairs > 1:
            say(f"{pairs} pairs at once")
            aggregate = [_tell_rate(system, senders, receivers, n_tell)["msgs_per_s"] for _ in range(repeat)]
            report[f"tell_{pairs}_pairs_msgs_per_s"] = statistics.median(aggregate)
        say("node loss")
        victim = system.spawn(_Receiver, name="victim", node=1)
        victim.ask("count", timeout=30).result()
        runtime = system.cluster
        killed = time.perf_counter()
        runtime.kill_node("n1")
        runtime.wait_recovered("n1", timeout=30)
        system.lookup("victim").ask("count", timeout=30).result()
        report["node_loss_recovery_ms"] = (time.perf_counter() - killed) * 1000
        say("hung node")
        report["hung_node_recovery_ms"] = _hung_node_recovery_ms(system)
    rows = {row["scenario"]: row for row in report["ray_raw"]["results"]}
    per_call = rows["per_call"]["per_s"]
    rtt = rows["round_trip"]["median_us"]
    report["raw_ray_one_call_per_message_per_s"] = float(per_call)
    report["raw_ray_round_trip_median_us"] = float(rtt)
    report["raw_ray_msgpack_batches_msgs_per_s"] = float(rows["batched"]["per_s"])
    if per_call:
        report["tell_vs_one_ray_call_per_message"] = report["tell_across_nodes_msgs_per_s"] / per_call
    if rtt:
        report["ask_from_driver_vs_raw_driver_call"] = report["ask_from_driver_median_us"] / rtt
    report["ask_from_driver_vs_interleaved_raw_call"] = (
        report["ask_from_driver_median_us"] / report["raw_driver_call_interleaved_median_us"])
    if report["raw_ray_msgpack_batches_msgs_per_s"]:
        report["tell_vs_msgpack_batch_ceiling"] = (
            report["tell_across_nodes_msgs_per_s"] / report["raw_ray_msgpack_batches_msgs_per_s"])
    report["ask_across_nodes_vs_raw_actor_to_actor_call"] = (
        report["ask_across_nodes_median_us"] / report["raw_ray_actor_to_actor_call_median_us"])
    return report


def _table(report: dict) -> str:
    lines = [f"{'case':48} {'figure':>14}"]
    for key, value in report.items():
        if isinstance(value, float):
            lines.append(f"{key:48} {value:>14,.2f}" if value < 10 else f"{key:48} {value:>14,.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="rayka cluster benchmark (local Ray on loopback)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--json", help="also write the JSON here")
    args = parser.parse_args(argv)
    report = run(args.quick, args.repeat, args.nodes, args.pairs, progress=lambda text: print(f"... {text}", flush=True))
    print(_table(report))
    emit_json(report, args.json)


if __name__ == "__main__":
    main()
