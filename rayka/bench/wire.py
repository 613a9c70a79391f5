"""The msgpack-only wire against the default one, in one run on one local Ray instance.

    python -m rayka.bench.wire [--quick] [--repeat N] [--json PATH]    (or: rayka bench wire)

Cases, each on both wires (``RayCluster(wire="pickle")`` and
``wire="msgpack"``), the systems taking turns on the same Ray instance so both
see the same machine:

- tells across nodes, node runtime to node runtime, of a frozen dataclass
  (a domain event: a pickle per message on the default wire, a name and its
  fields on the msgpack one), order checked;
- the same with plain data (a list: msgpack on both wires, the control);
- encoding and decoding one such event in this process (µs, no Ray).

Figures are medians of ``--repeat`` rounds; ``*_msgpack_over_pickle`` are ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import rayka  # noqa: E402
from rayka.bench._report import emit_json  # noqa: E402
from rayka.bench.cluster import _table  # noqa: E402
from rayka.cluster import register  # noqa: E402

__all__ = ["Event", "main", "run"]


@register
@dataclass(frozen=True)
class Event:
    """A typical domain event: what the default wire pickles and the msgpack wire sends by name."""

    order: int
    item: str
    quantity: int
    tags: tuple[str, ...] = ()


def _order_of(message: Any) -> int:
    return message.order if type(message) is Event else message[0]


class _Sink(rayka.Actor):
    def __init__(self) -> None:
        self.count, self.last, self.in_order = 0, -1, True

    def receive(self, message: Any) -> Any:
        if message == "count":
            count, in_order = self.count, self.in_order
            self.count, self.last, self.in_order = 0, -1, True
            return [count, in_order]
        order = _order_of(message)
        self.in_order = self.in_order and order == self.last + 1
        self.last = order
        self.count += 1
        return None


class _Source(rayka.Actor):
    """Sends n events or lists, waiting for stream room every 1,000; answers [count, in_order, seconds]."""

    async def receive(self, message: Any) -> Any:
        target, n, as_event = message
        started = time.perf_counter()
        for i in range(n):
            item = Event(i, "sku-1042", 3, ("gift", "express")) if as_event else [i, "sku-1042", 3, ["gift", "express"]]
            if i % 1000 == 999:
                await target.send(item)
            else:
                target.tell(item)
        count, in_order = await target.ask("count", timeout=300)
        return [count, in_order, time.perf_counter() - started]


def _codec_us(strict: bool, n: int) -> float:
    """µs to encode and decode one event record in this process."""
    from rayka.cluster._wire import Decoder, Encoder

    import importlib

    encoder, decoder = Encoder(strict=strict), Decoder(strict=strict)
    event = importlib.import_module("rayka.bench.wire").Event(7, "sku-1042", 3, ("gift", "express"))
    started = time.perf_counter()
    for _ in range(n):
        decoder.decode_record(encoder.encode_record("/user/sink", None, 0, event))
    return (time.perf_counter() - started) / n * 1e6


def _tells_per_s(wire: str, n: int, as_event: bool) -> float:
    import importlib

    here = importlib.import_module("rayka.bench.wire")  # by that name, not __main__: the nodes import it
    cluster = rayka.RayCluster(nodes=2, wire=wire)
    with rayka.ActorSystem(f"wire-{wire}", cluster=cluster) as system:
        sink = system.spawn(here._Sink, node=1)
        source = system.spawn(here._Source, node=0)
        count, in_order, seconds = source.ask([sink, n, as_event], timeout=600).result()
    if count != n or not in_order:
        raise AssertionError(f"wire={wire}: {count} of {n} arrived, in order: {in_order}")
    return n / seconds


def run(quick: bool = False, repeat: int = 3, progress: Callable[[str], Any] | None = None) -> dict:
    """Run every case ``repeat`` times on both wires, alternating which goes first; return medians."""
    import ray

    say = progress or (lambda text: None)
    n = 20_000 if quick else 200_000
    samples: dict[str, list[float]] = {}
    report: dict[str, Any] = {"repeat": repeat, "quick": quick, "messages": n, "cpus": os.cpu_count(),
                              "python": sys.version.split()[0]}
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, configure_logging=False,
             log_to_driver=False)
    try:
        for attempt in range(repeat):
            wires = ("pickle", "msgpack") if attempt % 2 == 0 else ("msgpack", "pickle")
            for wire in wires:
                for as_event, case in ((True, "event"), (False, "plain")):
                    say(f"{case} tells on the {wire} wire ({attempt + 1}/{repeat})")
                    samples.setdefault(f"{case}_tells_per_s_{wire}", []).append(_tells_per_s(wire, n, as_event))
                samples.setdefault(f"event_codec_us_{wire}", []).append(_codec_us(wire == "msgpack", 20_000))
    finally:
        ray.shutdown()
    for key, values in samples.items():
        report[key] = statistics.median(values)
    report["samples"] = samples
    for case in ("event_tells_per_s", "plain_tells_per_s"):
        report[f"{case}_msgpack_over_pickle"] = report[f"{case}_msgpack"] / report[f"{case}_pickle"]
    report["event_codec_pickle_over_msgpack"] = report["event_codec_us_pickle"] / report["event_codec_us_msgpack"]
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="rayka: the msgpack-only wire against the default one")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the JSON here")
    args = parser.parse_args(argv)
    report = run(args.quick, args.repeat, progress=lambda text: print(f"... {text}", flush=True))
    print(_table(report))
    emit_json(report, args.json)


if __name__ == "__main__":
    main()
