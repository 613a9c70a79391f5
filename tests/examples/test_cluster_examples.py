"""The examples on a local Ray cluster (loopback): the hello queue, the work queue, and a node runtime killed mid-run."""

from __future__ import annotations

import re

import pytest

from tests.examples.conftest import figures_of

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


def test_hello_queue_on_a_cluster_delivers_the_message(run_example) -> None:
    code, out = run_example("hello_queue", "--cluster")
    assert code == 0
    assert " [x] Sent 'Hello World!'" in out
    assert "delivered 1 message(s)" in out
    assert "over 3 processes" in figures_of(out)["resources"]  # the driver and two node runtimes


def test_work_queue_on_a_cluster_redelivers_the_crashed_job(run_example) -> None:
    code, out = run_example("work_queue", "--cluster", "--jobs", "30", "--work-ms", "10")
    assert code == 0
    assert "producer confirmed 30/30 results, all correct: True; missing 0, duplicates 0" in out
    assert re.search(r"jobs delivered again after the crash: \[(\d+, )*7[,\]]", out)
    assert "nothing lost" in out


def test_cluster_work_queue_loses_nothing_when_a_node_runtime_is_killed(run_example) -> None:
    code, out = run_example("cluster_work_queue", "--jobs", "40", "--work-ms", "30", "--kill-after", "10")
    assert code == 0
    killed = int(re.search(r" \[!\] killed node runtime n1 \(SIGKILL\) with (\d+) results in", out).group(1))
    assert 10 <= killed < 40  # it was killed mid-run
    assert " [+] n1's actors started again on ['n0']" in out
    assert re.search(r"producer confirmed 40/40 results, all correct: True; missing 0, duplicates \d+", out)
    assert "live node runtimes ['n0']" in out
    assert "nothing lost" in out
    per_consumer = eval(re.search(r"jobs per consumer: (\{.*\})", out).group(1))
    assert sum(per_consumer.values()) == 40 and any(name.startswith("b-") for name in per_consumer)


def test_demo_on_a_cluster_survives_a_node_kill(capsys: pytest.CaptureFixture[str]) -> None:
    from rayka.cli import main

    assert main(["demo", "--cluster", "--jobs", "60", "--work-ms", "10"]) == 0
    out = capsys.readouterr().out
    assert "node n1 killed: its actors restarted on n0" in out
    assert out.rstrip().endswith("nothing lost")


@pytest.mark.parametrize(("name", "argv", "expected"), [
    ("send_receive", ["--count", "300"], ["the sender got back 'HELLO, WORLD!'; the receiver handled 301 messages"]),
    ("slow_consumer", ["--speed", "100"], ["every job processed in every run: yes"]),
    ("topics", ["--count", "30"], ["  alice    (every post of its topics) got {'weather': 30, 'news': 30}",
                                   "the group each post once: yes"]),
    ("request_reply", ["--calls", "100", "--speed", "4"], [" [x] Divide(1, 0) -> INVALID_ARGUMENT ZeroDivisionError",
                                                           "-> DEADLINE_EXCEEDED AskTimeout"]),
    ("event_driven", ["--speed", "5"], ["7/7 readings, 1 alarm(s) [('thermo', 35.0)]"]),
    ("keyed_sessions", ["--count", "100", "--devices", "20"], ["300 readings reached 20 sessions (20 started",
                                                               "shards per node: {'n0': ",
                                                               "in order per producer: yes"]),
])
def test_every_example_runs_the_same_on_a_cluster(run_example, name: str, argv: list[str],
                                                  expected: list[str]) -> None:
    code, out = run_example(name, "--cluster", *argv)
    assert code == 0
    for text in expected:
        assert text in out
    assert "over 3 processes" in figures_of(out)["resources"]


def test_from_ray_on_a_cluster_spreads_the_pool_over_both_node_runtimes(run_example) -> None:
    code, out = run_example("from_ray", "--cluster", "--items", "8")
    assert code == 0
    assert " [x] pool: 8 items in" in out and "on 2 process(es)" in out
    assert "all answers correct" in out


def test_the_cluster_demo_keeps_its_terminal_tidy() -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "rayka.cli", "demo", "--cluster", "--jobs", "40", "--work-ms", "10"],
                          capture_output=True, text=True, timeout=170,
                          env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    notice = lines.index(" [!] killing node runtime n1 on purpose (SIGKILL): Ray may report a dead worker")
    assert notice < next(i for i, line in enumerate(lines) if "node n1 killed: its actors restarted on n0" in line)
    everything = done.stdout + done.stderr
    assert "(NodeRuntime pid=" not in everything  # Ray's forwarding of worker logs is off
    complaints = [i for i, line in enumerate(lines) if "(raylet)" in line]  # Ray's own note on the dead worker
    assert all(notice < i for i in complaints)  # ... comes after rayka said the kill is on purpose
    assert done.stdout.rstrip().endswith("nothing lost")
