"""Every example runs embedded with small sizes and scaled-down delays, and prints what it promises."""

from __future__ import annotations

import re

import pytest

from tests.examples.conftest import figures_of

pytestmark = pytest.mark.timeout(120)


def assert_figures(out: str) -> None:
    figures = figures_of(out)
    assert set(figures) == {"throughput", "latency", "queue", "resources"}
    assert re.search(r"[\d,.]+ msgs/s", figures["throughput"])
    assert "median send" in figures["latency"] and "queue" in figures["latency"]
    assert re.search(r"RSS [\d.]+ MiB", figures["resources"])


def test_hello_queue_prints_what_the_consumer_received(run_example) -> None:
    code, out = run_example("hello_queue")
    assert code == 0
    assert " [x] Sent 'Hello World!'\n" in out
    assert " [x] Received 'Hello World!'\n" in out
    assert "delivered 1 message(s)" in out
    assert_figures(out)


def test_send_receive_prints_both_steps_and_the_upper_cased_reply(run_example) -> None:
    code, out = run_example("send_receive", "--count", "500")
    assert code == 0
    lines = out.splitlines()
    assert " [x] Received 'Hello, World!'" in lines
    assert " [x] Upper-cased it to 'HELLO, WORLD!'" in lines
    assert lines.index(" [x] Received 'Hello, World!'") < lines.index(" [x] Got back 'HELLO, WORLD!'")
    assert "the receiver handled 501 messages" in out
    assert_figures(out)


def test_slow_consumer_waits_for_every_job_and_backpressure_bounds_the_queue(run_example) -> None:
    import slow_consumer

    results = slow_consumer.run(speed=100, show=lambda *_: None)
    one, backpressure, pool = results.values()
    for result in results.values():
        assert sorted(result["done"]) == list(range(10))
    assert one["total"] * 100 >= 19.5  # ten jobs of 2 s, one after the other
    assert one["queue_peak"] >= 3  # the mailbox grew while the producer outpaced the consumer
    assert backpressure["queue_peak"] <= 2
    assert max(backpressure["sends"]) > 0.5 / 100  # the producer was held back by a full mailbox
    assert pool["total"] < one["total"]
    assert len(pool["by"]) > 1
    code, out = run_example("slow_consumer", "--speed", "100")
    assert code == 0
    assert out.count("all 10 jobs done (join returned)") == 3
    assert "every job processed in every run: yes" in out
    assert_figures(out)


def test_work_queue_redelivers_the_crashed_job_and_the_producer_confirms_everything(run_example) -> None:
    code, out = run_example("work_queue", "--jobs", "30", "--workers", "3", "--work-ms", "5", "--crash-on", "7")
    assert code == 0
    assert re.search(r" \[!\] worker-\d crashes in the middle of job 7", out)
    assert re.search(r" \[\+\] worker-\d restarted by its supervisor", out)
    assert "producer confirmed 30/30 results, all correct: True; missing 0, duplicates 0" in out
    # job 7, and any job still unfinished in the crashed consumer's batch (handed back to the queue)
    assert 7 in eval(re.search(r"jobs delivered again after the crash: (\[.*\])", out).group(1))
    per_consumer = eval(re.search(r"jobs per consumer: (\{.*\})", out).group(1))
    assert sum(per_consumer.values()) == 30 and len(per_consumer) == 3  # spread over every consumer
    assert "nothing lost" in out
    assert_figures(out)


def test_work_queue_gives_up_a_poison_job_after_three_deliveries_and_tells_the_producer(run_example) -> None:
    code, out = run_example("work_queue", "--jobs", "20", "--work-ms", "5", "--crash-on", "-1", "--poison", "12")
    assert code == 0
    assert [int(n) for n in re.findall(r"crashes on poison job 12 \(delivery (\d)\)", out)] == [1, 2, 3]
    assert " [x] the queue gave up job 12 after 3 deliveries" in out
    assert "producer confirmed 19/20 results, all correct: True; missing 0, duplicates 0" in out
    assert "given up after 3 deliveries (poison), the producer told: [12]" in out
    assert "nothing lost silently" in out


def test_topics_fan_out_to_every_subscriber_and_share_within_a_group(run_example) -> None:
    code, out = run_example("topics", "--count", "50")
    assert code == 0
    assert "  alice    (every post of its topics) got {'weather': 50, 'news': 50}" in out
    assert "  bob      (every post of its topics) got {'news': 50}" in out
    group = eval(re.search(r"consumer group on 'orders'\) got 50 in all, shared (\[.*\])", out).group(1))
    assert sum(group) == 50 and all(n > 0 for n in group)
    assert "the group each post once: yes" in out
    assert_figures(out)


def test_request_reply_maps_answers_errors_and_deadlines_to_status_codes(run_example) -> None:
    code, out = run_example("request_reply", "--calls", "200", "--speed", "4")
    assert code == 0
    assert " [x] Add(2, 3) -> OK 5 " in out
    assert " [x] Divide(1, 0) -> INVALID_ARGUMENT ZeroDivisionError: division by zero" in out
    assert re.search(r"SlowSquare\(7\), deadline [\d.]+ ms -> DEADLINE_EXCEEDED AskTimeout", out)
    assert re.search(r"SlowSquare\(7\), deadline [\d.]+ ms -> OK 49", out)
    assert " [x] from the main thread: Add(40, 2) -> 42" in out
    assert_figures(out)


def test_event_driven_reacts_to_timers_events_and_terminations(run_example) -> None:
    code, out = run_example("event_driven", "--speed", "5")
    assert code == 0
    assert " [!] ALARM: thermo read 35 (threshold 30)" in out
    assert " [event] door stopped (Terminated)" in out
    assert re.search(r" \[event\] thermo silent for [\d.]+ s after reading #3", out)
    assert "7/7 readings, 1 alarm(s) [('thermo', 35.0)]" in out
    assert_figures(out)


def test_supervision_tree_restarts_only_the_failed_worker(run_example) -> None:
    code, out = run_example("supervision_tree")
    assert code == 0
    assert "└── w2 (Worker) [running, 0 queued]" in out
    assert "w1 (Worker) [running, 0 queued, 1 restart]" in out
    assert "counts now {'w0': 3, 'w1': 0, 'w2': 3}" in out
    assert "same ref: True" in out


def test_get_or_spawn_returns_the_running_actor_when_run_again() -> None:
    import rayka
    from _notebook import get_or_create_system, get_or_spawn, shutdown_all
    from hello_queue import Consumer

    system = get_or_create_system("again")
    try:
        assert get_or_create_system("again") is system
        first = get_or_spawn(system, Consumer, name="hello")
        actors = system.statistics()["actors"]
        assert get_or_spawn(system, Consumer, name="hello") == first
        assert system.statistics()["actors"] == actors
        fresh = get_or_spawn(system, Consumer, name="hello", replace=True)
        assert fresh != first and not first.is_alive and fresh.is_alive
        assert system.lookup("hello") == fresh
        assert isinstance(fresh, rayka.ActorRef)
    finally:
        shutdown_all()
    assert system.closed


def test_from_ray_ports_counter_pool_fetcher_and_wait(run_example) -> None:
    code, out = run_example("from_ray", "--items", "4")
    assert code == 0
    assert " [x] counter: 10 after 10 adds, 15 after one more of 5" in out
    assert " [x] pool: 4 items in" in out and "on 1 process(es)" in out
    assert re.search(r" \[x\] fetched 16 pages in [\d.]+ s, 8 at once", out)
    assert " [x] wait: 2 done, 2 pending or done later" in out
    assert "all answers correct" in out


def test_keyed_sessions_give_each_device_one_session_that_gets_every_reading_in_order(run_example) -> None:
    code, out = run_example("keyed_sessions", "--count", "200", "--devices", "20")
    assert code == 0
    assert "600 readings reached 20 sessions (20 started, each on its first reading; 20 active)" in out
    assert "every session got every reading, in order per producer: yes" in out
    assert_figures(out)
