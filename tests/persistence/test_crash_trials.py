"""Crash trials on both journals: real processes, SIGKILL at random moments, then recovery.

For each journal, 10 trials of a durable queue of 2,000 numbered items and
10 trials of a persistent counter with acknowledged increments. Nothing
acknowledged may be lost, and no acknowledged work may come back. The seed
of the random moments is in every failure message (``RAYKA_TRIAL_SEED``
replays it).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import rayka
from tests.persistence.journals import open_spec

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
QUEUE = REPO / "tests" / "patterns" / "durable_queue_script.py"
COUNTER = Path(__file__).with_name("counter_script.py")
TRIALS = 10
ITEMS = 2000


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """``where(k)``: the journal of trial ``k`` (a fresh file or schema)."""
    if request.param == "sqlite":
        return lambda k: f"sqlite:{tmp_path / f'trial-{k}.db'}"
    dsn, schema = request.getfixturevalue("postgres").dsn, request.getfixturevalue("postgres_schema")
    return lambda k: f"postgres:{dsn}#{schema}_{k}"


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("RAYKA_TRIAL_SEED", random.randrange(2**32)))
    generator = random.Random(seed)
    generator.seed_value = seed  # type: ignore[attr-defined]
    return generator


def run(script: Path, *args: str, kill_after: int | None = None, stall: float = 5.0,
        timeout: float = 60.0) -> tuple[list[list[str]], int]:
    """Run ``script``; with ``kill_after``, SIGKILL it once it printed that many lines (or went quiet for
    ``stall`` seconds). Returns its output lines, split, and its exit code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    lines: list[list[str]] = []
    enough = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.endswith("\n"):  # a line cut by the kill is not a confirmation
                lines.append(line.split())
            if kill_after is not None and len(lines) >= kill_after:
                enough.set()
        enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if kill_after is None:
            process.wait(timeout)
        else:
            deadline = time.monotonic() + timeout
            seen = -1
            while not enough.wait(stall) and len(lines) != seen and time.monotonic() < deadline:
                seen = len(lines)  # still printing: wait on
            process.send_signal(signal.SIGKILL)
            process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        reader.join(10)
        stderr = process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    if kill_after is None:
        assert process.returncode == 0, stderr[-3000:]
    return lines, process.returncode


def test_a_durable_queue_killed_at_random_moments_loses_nothing_acknowledged(where: Any, rng: Any) -> None:
    for trial in range(TRIALS):
        journal = where(trial)
        every = rng.choice(["0", "100"])
        moment = rng.randint(20, 5000)
        context = f"seed {rng.seed_value}, trial {trial}, killed after {moment} lines, snapshot_every {every}"
        first, code = run(QUEUE, journal, "produce", every, str(ITEMS), kill_after=moment)
        assert code == -signal.SIGKILL, context
        put_confirmed = {int(line[1]) for line in first if line[0] == "PUT"}
        ack_confirmed = {int(line[1]) for line in first if line[0] == "ACK"}
        handled_first = {int(line[1]) for line in first if line[0] == "GOT"}

        second, _ = run(QUEUE, journal, "drain", every)
        got = [int(line[1]) for line in second if line[0] == "GOT"]
        assert second[-1] == ["DONE", str(len(got))], context
        assert not set(got) & ack_confirmed, context  # acknowledged work never comes back
        assert len(got) == len(set(got)), context  # delivered once each in the drain
        assert put_confirmed <= handled_first | set(got), context  # accepted work is handled, or now
        assert all(int(line[2]) == int(line[1]) - 1 for line in first + second if line[0] == "GOT"), context

        third, _ = run(QUEUE, journal, "drain", every)
        assert third == [["DONE", "0"]], context  # drained means drained


def test_a_persistent_counter_killed_at_random_moments_keeps_every_acknowledged_increment(
        where: Any, rng: Any) -> None:
    from tests.persistence.counter_script import Counter

    for trial in range(TRIALS):
        journal = where(trial)
        moment = rng.randint(1, 3000)
        context = f"seed {rng.seed_value}, trial {trial}, killed after {moment} acknowledgements"
        lines, code = run(COUNTER, journal, kill_after=moment)
        assert code == -signal.SIGKILL, context
        acknowledged = [int(line[1]) for line in lines if line[0] == "ACK"]
        assert acknowledged == list(range(1, len(acknowledged) + 1)), context

        with open_spec(journal) as opened, rayka.ActorSystem("recover") as system:
            total, seq = system.spawn(Counter, opened).ask("total", timeout=30).result()
        assert total >= (acknowledged[-1] if acknowledged else 0), context  # nothing acknowledged lost
        assert total == seq, context  # each event added one: the state is exactly the events on disk
