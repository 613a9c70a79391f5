"""Event-driven: actors triggered by timers and by events, not by a loop that polls.

Three kinds of trigger, all arriving as messages in the actor's mailbox:

- a repeating timer (``context.schedule_repeatedly``): each sensor takes a
  reading on every tick and sends it to the monitor;
- events from other actors: a reading above the threshold makes the monitor
  raise an alarm, which the alarm actor handles;
- a one-shot timer (``context.schedule_once``) as a watchdog: the monitor
  re-arms it on every reading; if it fires, the sensor went silent;
- a lifecycle event (``context.watch``): ``Terminated`` when a sensor stops.

The ``thermo`` sensor reads 20, 21, 35, 22 and then goes silent (its timer is
cancelled but it stays alive); ``door`` reads 0, 1, 0 and then stops itself.

    python examples/event_driven.py              # 0.5 s ticks, about 3 s
    python examples/event_driven.py --speed 10   # 50 ms ticks
    python examples/event_driven.py --cluster
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import rayka

from _metrics import Figures, Timings, add_common_arguments, cluster_for, now, say, wait_until

READINGS = {"thermo": (20.0, 21.0, 35.0, 22.0), "door": (0.0, 1.0, 0.0)}
THRESHOLD = 30.0


@dataclass(frozen=True, slots=True)
class Tick:
    """A sensor's timer went off."""


@dataclass(frozen=True, slots=True)
class Reading:
    sensor: str
    seq: int
    value: float
    sent_at: float


@dataclass(frozen=True, slots=True)
class Watch:
    """Tell the monitor to watch a sensor (its ``Terminated`` is an event)."""

    sensor: rayka.ActorRef


@dataclass(frozen=True, slots=True)
class Silent:
    """The monitor's watchdog for ``sensor`` fired: no reading since ``seq``."""

    sensor: str
    seq: int


@dataclass(frozen=True, slots=True)
class Alarm:
    sensor: str
    value: float


class Sensor(rayka.Actor):
    """Takes one reading per tick of a repeating timer; when out of readings, goes silent or stops."""

    def __init__(self, label: str, readings: tuple, interval: float, monitor: rayka.ActorRef,
                 stop_when_done: bool) -> None:
        self.label = label
        self.readings = readings
        self.interval = interval
        self.monitor = monitor
        self.stop_when_done = stop_when_done
        self.seq = 0
        self.sends: list[float] = []

    def on_start(self) -> None:
        self.timer = self.context.schedule_repeatedly(self.interval, Tick())

    def receive(self, message):
        if isinstance(message, Tick):
            if self.seq == len(self.readings):
                self.timer.cancel()
                if self.stop_when_done:
                    self.context.stop()  # the monitor gets Terminated
                return None
            sent_at = now()
            self.monitor.tell(Reading(self.label, self.seq, self.readings[self.seq], sent_at))
            self.sends.append(now() - sent_at)
            self.seq += 1
        elif message == "sends":
            return self.sends
        return None


class Alarms(rayka.Actor):
    """Handles alarm events (here: prints and counts them)."""

    def __init__(self) -> None:
        self.raised: list[tuple[str, float]] = []

    def receive(self, message):
        if isinstance(message, Alarm):
            say(f" [!] ALARM: {message.sensor} read {message.value:g} (threshold {THRESHOLD:g})")
            self.raised.append((message.sensor, message.value))
        elif message == "raised":
            return list(self.raised)
        return None


class Monitor(rayka.Actor):
    """Reacts to readings, watchdog timers and terminations; keeps an event log."""

    def __init__(self, alarms: rayka.ActorRef, silence: float) -> None:
        self.alarms = alarms
        self.silence = silence
        self.watchdogs: dict[str, tuple] = {}  # sensor -> (its watchdog timer, the reading it waits after)
        self.names: dict[rayka.ActorRef, str] = {}
        self.events: list[str] = []
        self.readings = 0
        self.timings = Timings()

    def event(self, text: str) -> None:
        say(f" [event] {text}")
        self.events.append(text)

    def receive(self, message):
        if isinstance(message, Reading):
            started = now()
            self.readings += 1
            if message.value > THRESHOLD:
                self.alarms.tell(Alarm(message.sensor, message.value))
            old = self.watchdogs.get(message.sensor)
            if old is not None:
                old[0].cancel()
            timer = self.context.schedule_once(self.silence, Silent(message.sensor, message.seq))
            self.watchdogs[message.sensor] = (timer, message.seq)
            self.timings.handled(message.sent_at, started, now())
        elif isinstance(message, Silent):
            armed = self.watchdogs.get(message.sensor)
            if armed is not None and armed[1] == message.seq:  # not re-armed or cancelled meanwhile
                del self.watchdogs[message.sensor]
                self.event(f"{message.sensor} silent for {self.silence:g} s after reading #{message.seq}")
        elif isinstance(message, Watch):
            self.names[message.sensor] = message.sensor.name
            self.context.watch(message.sensor)
        elif isinstance(message, rayka.Terminated):
            name = self.names.get(message.ref, message.ref.path)
            armed = self.watchdogs.pop(name, None)
            if armed is not None:
                armed[0].cancel()  # a stopped sensor is not a silent one
            self.event(f"{name} stopped (Terminated)")
        elif message == "report":
            return {"events": list(self.events), "readings": self.readings, "timings": self.timings.as_dict(),
                    "peak": self.context.self.statistics().peak}
        return None


def run(*, speed: float = 1.0, cluster: bool = False) -> dict:
    """Run until both expected events happened; returns the event log, the alarms and the figures."""
    interval = 0.5 / speed
    silence = 3 * interval
    with rayka.ActorSystem("event-driven", cluster=cluster_for(cluster, __name__)) as system:
        alarms = system.spawn(Alarms, name="alarms", node=1 if cluster else None)
        monitor = system.spawn(Monitor, alarms, silence, name="monitor", node=0 if cluster else None)
        began = now()
        sensors = []
        for i, (label, readings) in enumerate(READINGS.items()):
            sensor = system.spawn(Sensor, label, readings, interval, monitor, label == "door", name=label,
                                  node=i % 2 if cluster else None)
            monitor.tell(Watch(sensor))
            sensors.append(sensor)

        def finished() -> bool:
            events = monitor.ask("report", timeout=10).result()["events"]
            last = f"after reading #{len(READINGS['thermo']) - 1}"
            return any("thermo silent" in e and last in e for e in events) and any("door stopped" in e for e in events)

        done = wait_until(finished, timeout=30 + 10 * silence, interval=interval / 5)
        seconds = now() - began
        report = monitor.ask("report", timeout=10).result()
        raised = alarms.ask("raised", timeout=10).result()
        sends = sensors[0].ask("sends", timeout=10).result()  # the thermo's (the door has stopped)
        timings = Timings(send=sends).merge(report["timings"])
        handled = report["readings"] + len(report["events"])
        figures = Figures("2 sensors -> monitor -> alarms", handled, seconds, timings, report["peak"], 0,
                          "monitor's mailbox")
        figures.measure_resources(system)
    return {"done": done, "events": report["events"], "alarms": raised, "readings": report["readings"],
            "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser, speed=1.0)
    args = parser.parse_args(argv)
    result = run(speed=args.speed, cluster=args.cluster)
    expected_readings = sum(len(r) for r in READINGS.values())
    print(f"{result['readings']}/{expected_readings} readings, {len(result['alarms'])} alarm(s) "
          f"{result['alarms']}, events: {result['events']}", flush=True)
    say("(message and timer events handled per second below: this scenario waits on timers by design)")
    result["figures"].print()
    ok = result["done"] and result["readings"] == expected_readings and result["alarms"] == [("thermo", 35.0)]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
