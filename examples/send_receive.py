"""Send and receive: one actor sends "Hello, World!", another upper-cases it and prints both steps.

The two-thread ``queue.Queue`` example on actors: the queue is the
receiver's mailbox, ``put`` is ``tell`` (or ``ask`` when the sender wants the
answer back), and ``get`` is the receiver's ``receive``. After the greeting
the sender sends ``--count`` more messages to measure the pair.

    python examples/send_receive.py              # embedded, no Ray
    python examples/send_receive.py --cluster    # sender and receiver on two Ray node runtimes
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import rayka

from _metrics import Figures, Timings, add_common_arguments, cluster_for, now, say


@dataclass(frozen=True, slots=True)
class Text:
    """A line of text, stamped when it was sent."""

    text: str
    sent_at: float


@dataclass(frozen=True, slots=True)
class Start:
    """Tell the sender to greet the receiver, then send ``count`` more messages."""

    text: str
    count: int


@dataclass(frozen=True, slots=True)
class Report:
    """Ask the receiver what it handled; answered after every message sent before it (FIFO)."""


class Receiver(rayka.Actor):
    """Upper-cases each text; prints both steps for the first one."""

    def __init__(self) -> None:
        self.handled = 0
        self.last = ""
        self.timings = Timings()

    def receive(self, message):
        if isinstance(message, Text):
            started = now()
            upper = message.text.upper()
            if self.handled == 0:
                say(f" [x] Received {message.text!r}")
                say(f" [x] Upper-cased it to {upper!r}")
            self.handled += 1
            self.last = upper
            self.timings.handled(message.sent_at, started, now())
            return upper
        if isinstance(message, Report):
            mailbox = self.context.self.statistics()  # this actor's own mailbox
            return {"handled": self.handled, "last": self.last, "timings": self.timings.as_dict(),
                    "peak": mailbox.peak, "queued": mailbox.queued}
        return None


class Sender(rayka.Actor):
    """Greets the receiver with an ask (and prints the answer), then streams tells."""

    def __init__(self, receiver: rayka.ActorRef) -> None:
        self.receiver = receiver

    async def receive(self, message):
        if not isinstance(message, Start):
            return None
        say(f" [x] Sending {message.text!r}")
        answer = await self.receiver.ask(Text(message.text, now()))
        say(f" [x] Got back {answer!r}")
        sends = []
        began = now()
        for _ in range(message.count):
            sent_at = now()
            self.receiver.tell(Text(message.text, sent_at))
            sends.append(now() - sent_at)
        report = await self.receiver.ask(Report(), timeout=60)  # queued behind every tell above
        report.update(answer=answer, seconds=now() - began, sends=sends)
        return report


def run(*, count: int = 10_000, cluster: bool = False, text: str = "Hello, World!") -> dict:
    """Run the scenario and return what the receiver handled and the figures."""
    with rayka.ActorSystem("send-receive", cluster=cluster_for(cluster, __name__)) as system:
        receiver = system.spawn(Receiver, name="receiver", node=1 if cluster else None)
        sender = system.spawn(Sender, receiver, name="sender", node=0 if cluster else None)
        report = sender.ask(Start(text, count), timeout=120).result()
        timings = Timings(send=report["sends"]).merge(report["timings"])
        figures = Figures("sender -> receiver" + (" across two nodes" if cluster else ""), count,
                          report["seconds"], timings, report["peak"], report["queued"], "receiver's mailbox")
        figures.measure_resources(system)
    report["figures"] = figures
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--count", type=int, default=10_000, help="messages sent after the greeting (default 10000)")
    args = parser.parse_args(argv)
    report = run(count=args.count, cluster=args.cluster)
    print(f"the sender got back {report['answer']!r}; the receiver handled {report['handled']} messages "
          f"({args.count} + the greeting), the last one {report['last']!r}", flush=True)
    report["figures"].print()
    return 0 if report["handled"] == args.count + 1 and report["answer"] == "HELLO, WORLD!" else 1


if __name__ == "__main__":
    sys.exit(main())
