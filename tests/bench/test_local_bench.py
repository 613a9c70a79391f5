"""The side-by-side local benchmark runs end to end at tiny sizes and reports every figure."""

from __future__ import annotations

import json
import math

import pytest

from rayka.bench import local

pytestmark = pytest.mark.timeout(120)

_METRICS = {
    "tell_actor": {"msgs_per_s"},
    "tell_thread": {"msgs_per_s"},
    "ask_actor": {"round_trips_per_s"},
    "call_actor": {"round_trips_per_s", "ask_round_trips_per_s", "call_over_ask"},
    "gather": {"total_ms"},
    "metrics_cost": {"msgs_per_s", "off_msgs_per_s", "on_over_off"},
    "ask_thread": {"median_us", "p99_us"},
    "fan_out": {"total_ms", "msgs_per_s"},
    "spawn": {"actors_per_s", "us_per_actor", "bytes_per_actor"},
    "million": {"spawn_s", "actors_per_s", "bytes_per_actor", "ask_sample_ms", "shutdown_s"},
}


@pytest.fixture(scope="module")
def report() -> dict:
    steps: list[str] = []
    result = local.run(quick=True, repeat=1, progress=steps.append, scale=0.01)
    result["_steps"] = steps
    return result


def test_every_case_reports_positive_figures_for_every_peer(report: dict) -> None:
    assert set(report["cases"]) == set(_METRICS)
    for key, metrics in _METRICS.items():
        case = report["cases"][key]
        peers = list(local.CASES[key][1])
        for peer in peers:
            figures = case[peer]
            assert "error" not in figures, (key, peer, figures)
            wanted = metrics if peer == "rayka" else metrics & {"round_trips_per_s", "total_ms", "msgs_per_s",
                                                                    "median_us", "p99_us", "actors_per_s",
                                                                    "us_per_actor", "bytes_per_actor"}
            assert wanted <= set(figures), (key, peer, sorted(figures))
            for metric in wanted:
                summary = figures[metric]
                assert summary["samples"] and len(summary["samples"]) == report["repeat"]
                assert all(math.isfinite(v) and v > 0 for v in summary["samples"]), (key, peer, metric, summary)
                assert summary["min"] <= summary["median"] <= summary["max"]


def test_the_report_names_the_run_and_the_machine(report: dict) -> None:
    assert report["repeat"] == 1 and report["quick"] is True
    assert report["cpu_count"] >= 1 and report["python"]
    assert len(report["_steps"]) == sum(len(local.CASES[key][1]) for key in local.CASES)
    json.dumps({k: v for k, v in report.items() if k != "_steps"})


def test_the_table_has_a_row_per_figure_and_a_ratio_column(report: dict) -> None:
    lines: list[str] = []
    local.render(report, lines.append)
    assert lines[0].split("|")[-1].strip() == "rayka/pykka"
    assert any(line.startswith("tell actor->actor") for line in lines)
    assert not any("ERROR" in line for line in lines)


def test_the_command_line_writes_the_json_report(tmp_path, capsys) -> None:
    path = tmp_path / "local.json"
    local.main(["--quick", "--repeat", "1", "--scale", "0.01", "--case", "ask_thread", "--json", str(path)])
    written = json.loads(path.read_text())
    assert written["cases"]["ask_thread"]["rayka"]["median_us"]["median"] > 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert json.loads(printed[-1]) == written
