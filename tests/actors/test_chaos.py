"""The chaos check at a small size: random failures under a supervisor tree; the books balance."""

from __future__ import annotations

import logging

import pytest

from rayka.bench.chaos import restart_latency, run

pytestmark = pytest.mark.timeout(120)


def test_random_failures_under_a_supervisor_tree_leave_every_ask_resolved_and_the_books_balanced(caplog):
    caplog.set_level(logging.CRITICAL, logger="rayka")
    figures = run(actors=100, messages=5_000, p=0.1, seed=7)
    assert figures["processed"] + figures["failed"] + figures["dead_lettered"] == figures["sent"] == 5_000
    assert figures["failed"] > 0 and figures["restarts"] > 0
    assert figures["dead_letters_recorded"] == figures["dead_lettered"]


def test_restart_latency_is_measured_for_every_restart(caplog):
    caplog.set_level(logging.CRITICAL, logger="rayka")
    figures = restart_latency(50)
    assert figures["restarts"] == 50 and 0 < figures["median_us"] <= figures["p99_us"]
