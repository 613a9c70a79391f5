"""The ``rayka`` command: help, version, the live demo and the benchmarks (tiny sizes)."""

from __future__ import annotations

import re

import pytest

from rayka import __version__
from rayka.cli import ProgressBar, main

pytestmark = pytest.mark.timeout(120)


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: rayka")
    for command in ("demo", "bench", "version"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command


def test_no_command_prints_the_help_and_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: rayka" in capsys.readouterr().out


def test_version_prints_rayka_python_and_ray(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert re.match(rf"rayka {re.escape(__version__)} \(Python [\d.]+, Ray [\w.]+\)", capsys.readouterr().out)


def test_demo_shows_progress_and_confirms_nothing_lost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--jobs", "40", "--workers", "3", "--work-ms", "5", "--crash-on", "10"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[#+\] 40/40 results in [\d.]+ s$", out, re.M)  # the bar, full at the end
    assert "crash on job 10: consumer restarted, job redelivered" in out
    assert "failed with InjectedCrash" in out and "decided restart" in out
    assert "producer confirmed 40/40 results; missing 0, duplicates 0" in out
    assert out.rstrip().endswith("nothing lost")


def test_the_progress_bar_redraws_one_line_in_place_on_a_terminal() -> None:
    import io

    out = io.StringIO()
    bar = ProgressBar(10, out, width=10, columns=50, tty=True)
    for done in range(11):
        bar.update(done, "working")
    bar.finish("done")
    text = out.getvalue()
    assert text.count("\n") == 1 and text.count("\r") == 12
    assert text.endswith("[##########] 10/10 done\n")


def test_the_progress_bar_erases_the_whole_line_and_prints_notes_above_itself() -> None:
    import io

    out = io.StringIO()
    bar = ProgressBar(4, out, width=4, columns=80, tty=True)
    bar.update(1, "a long status text that is wider than what comes next")
    bar.note(" [!] something happened")
    bar.update(2, "short")
    bar.finish("done")
    draws = out.getvalue().split("\r")[1:]
    assert all(draw.startswith("\x1b[2K") for draw in draws)  # nothing of a longer line is left over
    assert " [!] something happened\n" in out.getvalue()
    assert draws[-1] == "\x1b[2K[####] 4/4 done\n"


def test_bench_local_quick_prints_the_comparison_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "local", "--quick", "--repeat", "1", "--scale", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "rayka bench local --quick:" in out
    assert re.search(r"^\[#+\] \d+/\d+ done in [\d.]+ s$", out, re.M)
    assert re.search(r"^case\s+\|\s+rayka\s+\|\s+pykka\s+\|\s+asyncio", out, re.M)
    assert re.search(r"^tell actor->actor 1->1 \(msgs/s\)\s+\|\s+[\d.]+[kM]?\s", out, re.M)


def test_bench_journal_quick_prints_its_table(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    report = tmp_path / "bench.json"
    assert main(["bench", "journal", "--quick", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^scenario\s+journal\s+sync\s+prod", out, re.M)
    assert re.search(r"^group-4-producers\s+sqlite", out, re.M)
    from rayka._pgserver import find_bin

    if find_bin() is not None:  # side by side, with the ratio
        assert re.search(r"^group-4-producers\s+postgres .* \d+\.\d\dx$", out, re.M)
    assert report.exists() and '"journal"' in report.read_text()
