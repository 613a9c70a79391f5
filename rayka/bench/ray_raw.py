"""Measure raw Ray actor calls, the baseline that rayka's cluster transport must beat.

Run ``python -m rayka.bench.ray_raw [--quick]``. It starts a local Ray
instance on loopback (unless Ray is already initialised in this process, in
which case it uses that one and leaves it running), creates one async Ray
actor, and measures:

- ``wire``: no Ray: encode 1000 messages one by one, join them into a batch,
  decode it, in messages per second (the wire format's own ceiling);
- ``per_call``: one Ray actor call per message, all submitted before waiting
  (pipelined), in calls per second;
- ``round_trip``: one call at a time, ``ray.get`` on each, median and p99 in
  microseconds;
- ``batched``: rayka's wire format and streams: messages encoded one by one
  with :class:`~rayka.cluster._wire.Encoder`, cut into batches of 1000 by an
  :class:`~rayka.cluster._stream.OutboundStream` with 4 batches in flight,
  one Ray call per batch, decoded and put back in order on the actor by
  :class:`~rayka.cluster._stream.InboundStreams`, in messages per second.

The messages are ``("add", i)``. The run prints a table, then one JSON line
with the same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any

__all__ = ["main", "run"]

_SIZES = {  # quick, full
    "wire": (300_000, 1_000_000),
    "per_call": (3_000, 8_000),
    "round_trip": (300, 2_000),
    "batched": (200_000, 1_000_000),
}


def _package_root() -> str:
    """The directory that holds the ``rayka`` package, for the workers' sys.path."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _make_actor_class(ray: Any) -> Any:
    """Define the receiving actor inside a function, so Ray ships it by value."""

    @ray.remote(num_cpus=1)
    class Receiver:
        def __init__(self, root: str) -> None:
            import sys

            if root not in sys.path:
                sys.path.insert(0, root)
            from rayka.cluster._stream import InboundStreams
            from rayka.cluster._wire import Decoder

            self.inbound = InboundStreams(Decoder().decode_batch)
            self.count = 0
            self.next_expected = 0
            self.out_of_order = 0

        async def tell(self, message: Any) -> None:
            self.count += 1

        async def ping(self) -> None:
            return None

        async def deliver(self, data: bytes) -> int:
            records = self.inbound.receive(data)
            expected = self.next_expected
            for record in records:
                if record[3][1] != expected:
                    self.out_of_order += 1
                expected += 1
            self.next_expected = expected
            self.count += len(records)
            return len(records)

        async def reset(self) -> int:
            count, self.count = self.count, 0
            return count

        async def order_errors(self) -> int:
            return self.out_of_order

    return Receiver


def _wire(n: int, batch: int = 1000) -> dict[str, Any]:
    from rayka.cluster._wire import Decoder, Encoder, StreamId

    encoder, decoder, stream_id = Encoder(), Decoder(), StreamId("bench", 1)
    encode, join, decode = encoder.encode_record, encoder.join_batch, decoder.decode_batch
    rounds = max(1, n // batch)
    decode(join(stream_id, 0, [encode("/user/counter", None, 0, ("add", i)) for i in range(batch)]))
    start = time.perf_counter()
    for r in range(rounds):
        records = [encode("/user/counter", None, 0, ("add", i)) for i in range(batch)]
        decode(join(stream_id, r * batch, records))
    elapsed = time.perf_counter() - start
    n = rounds * batch
    return {"scenario": "wire", "messages": n, "calls": 0, "batch": batch, "seconds": round(elapsed, 3),
            "per_s": round(n / elapsed)}


def _per_call(ray: Any, actor: Any, n: int) -> dict[str, Any]:
    ray.get(actor.reset.remote())
    start = time.perf_counter()
    refs = [actor.tell.remote(("add", i)) for i in range(n)]
    ray.get(refs)
    elapsed = time.perf_counter() - start
    assert ray.get(actor.reset.remote()) == n
    return {"scenario": "per_call", "messages": n, "seconds": round(elapsed, 3), "per_s": round(n / elapsed)}


def _round_trip(ray: Any, actor: Any, n: int) -> dict[str, Any]:
    for _ in range(20):
        ray.get(actor.ping.remote())
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        ray.get(actor.ping.remote())
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {
        "scenario": "round_trip",
        "messages": n,
        "seconds": round(sum(samples), 3),
        "per_s": round(n / sum(samples)),
        "median_us": round(statistics.median(samples) * 1e6, 1),
        "p99_us": round(samples[int(len(samples) * 0.99) - 1] * 1e6, 1),
    }


def _batched(ray: Any, actor: Any, n: int, batch: int = 1000, in_flight: int = 4) -> dict[str, Any]:
    from rayka.cluster._stream import OutboundStream, StreamId
    from rayka.cluster._wire import Encoder

    ray.get(actor.reset.remote())
    encoder = Encoder()
    out = OutboundStream(StreamId("bench-driver", time.time_ns()), max_batch_messages=batch, max_in_flight=in_flight)
    encode, push = encoder.encode_record, out.push
    waiting: dict[Any, int] = {}
    sent = calls = 0
    start = time.perf_counter()
    while sent < n or waiting or out.sendable:
        while sent < n and out.writable:
            push(encode("/user/counter", None, 0, ("add", sent)))
            sent += 1
        while (next_batch := out.next_batch()) is not None:
            data = encoder.join_batch(next_batch.stream_id, next_batch.first_seq, next_batch.items)
            waiting[actor.deliver.remote(data)] = next_batch.first_seq
            calls += 1
        if waiting:
            done, _ = ray.wait(list(waiting), num_returns=1)
            for ref in done:
                ray.get(ref)
                out.ack(waiting.pop(ref))
    elapsed = time.perf_counter() - start
    received = ray.get(actor.reset.remote())
    if received != n or ray.get(actor.order_errors.remote()):
        raise AssertionError(f"batched run delivered {received} of {n} messages, or out of order")
    return {
        "scenario": "batched",
        "messages": n,
        "calls": calls,
        "batch": batch,
        "in_flight": in_flight,
        "seconds": round(elapsed, 3),
        "per_s": round(n / elapsed),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Run every scenario on a local Ray instance and return the report.

    Args:
        quick: Run about a fifth of the messages (a few seconds in all, plus
            Ray's start).

    Returns:
        A JSON-ready dict: ``results`` holds one row per scenario.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    index = 0 if quick else 1
    wire = _wire(_SIZES["wire"][index])  # before Ray starts its processes
    started = not ray.is_initialized()
    begin = time.perf_counter()
    if started:
        ray.init(_node_ip_address="127.0.0.1", num_cpus=2, include_dashboard=False, log_to_driver=False)
    actor = None
    try:
        startup = time.perf_counter() - begin
        actor = _make_actor_class(ray).remote(_package_root())
        ray.get(actor.ping.remote())
        results = [
            wire,
            _per_call(ray, actor, _SIZES["per_call"][index]),
            _round_trip(ray, actor, _SIZES["round_trip"][index]),
            _batched(ray, actor, _SIZES["batched"][index]),
        ]
    finally:
        if actor is not None:
            ray.kill(actor)
        if started:
            ray.shutdown()
    return {
        "benchmark": "ray_raw",
        "quick": quick,
        "ray": ray.__version__,
        "ray_start_s": round(startup, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }


def _table(report: dict[str, Any]) -> str:
    header = f"{'scenario':<12}{'messages':>10}{'calls':>9}{'seconds':>9}{'msgs/s':>12}{'median us':>11}{'p99 us':>9}"
    lines = [header, "-" * len(header)]
    for row in report["results"]:
        calls = row.get("calls", row["messages"])
        lines.append(
            f"{row['scenario']:<12}{row['messages']:>10,}{calls:>9,}{row['seconds']:>9}{row['per_s']:>12,}"
            f"{row.get('median_us', ''):>11}{row.get('p99_us', ''):>9}"
        )
    lines.append(
        f"Ray {report['ray']} on loopback (started in {report['ray_start_s']} s), "
        f"{report['cpus']} CPUs, Python {report['python']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the benchmark, print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m rayka.bench.ray_raw", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a fifth of the messages")
    args = parser.parse_args(argv)
    report = run(args.quick)
    print(_table(report))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
