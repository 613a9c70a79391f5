"""rayka top: one frame printed with Rich (--once) and the Textual app driven headless by its pilot."""

from __future__ import annotations

import asyncio
import io
import threading

import pytest

import rayka
from tests.observe.observe_actors import Echo, Held
from rayka import cli
from rayka.observe._top import Frame, fetch

pytestmark = pytest.mark.timeout(60)


def busy_system(system: rayka.ActorSystem) -> threading.Event:
    echo = system.spawn(Echo, name="echo")
    rayka.gather([echo.ask(n) for n in range(30)]).result(timeout=5)
    release = threading.Event()
    held = system.spawn(Held, name="held")
    held.tell(release)
    for n in range(3):
        held.tell(n)
    system.spawn(Echo, name="gone").stop()
    return release


def test_top_once_prints_nodes_classes_actors_and_dead_letters(system: rayka.ActorSystem) -> None:
    release = busy_system(system)
    try:
        with system.serve_metrics() as server:
            system.lookup("echo").tell("one more")
            out = io.StringIO()
            assert cli._top(cli._parser().parse_args(["top", "--url", server.url, "--once", "--interval", "0.2"]),
                            out) == 0
    finally:
        release.set()
    text = out.getvalue()
    assert "nodes" in text and "actor classes" in text and "busiest actors (by rate)" in text
    assert "/user/echo" in text and "/user/held" in text and "local" in text
    row = next(line for line in text.splitlines() if "/user/held" in line)
    assert "running" in row and "Held" in row
    assert "supervision tree" in text and "node local:" in text
    assert "├── echo (Echo) [running, 0 queued]" in text and "held (Held) [running, " in text


def test_frames_compute_rates_sort_and_filter(system: rayka.ActorSystem) -> None:
    release = busy_system(system)
    try:
        before = system.metrics()
        echo = system.lookup("echo")
        rayka.gather([echo.ask(n) for n in range(50)]).result(timeout=5)
        now = system.metrics()
        frame = Frame(now, before)
        assert frame.actors[0][0] == "/user/echo" and frame.actors[0][5] != "0/s"  # the only one with a rate
        by_queued = Frame(now, before, sort="queued")
        assert by_queued.actors[0][0] == "/user/held" and int(by_queued.actors[0][4]) >= 2
        held_only = Frame(now, before, query="HELD")
        assert [row[0] for row in held_only.actors] == ["/user/held"]
        assert [row[0] for row in held_only.classes] == ["Held"]
        with pytest.raises(ValueError, match="sort must be one of"):
            Frame(now, before, sort="name")
    finally:
        release.set()


def test_the_app_refreshes_sorts_filters_and_quits_headless(system: rayka.ActorSystem) -> None:
    from rayka.observe._top_app import TopApp

    release = busy_system(system)
    app = TopApp(lambda: system.metrics(), interval=0.2)

    async def drive() -> None:
        async with app.run_test(size=(160, 60)) as pilot:
            await pilot.pause(0.5)
            paths = [row[0] for row in app.table_rows("actors")]
            assert "/user/echo" in paths and "/user/held" in paths
            assert any(row[0] == "local" for row in app.table_rows("nodes"))
            tree = str(app.query_one("#tree").render())
            assert "node local:" in tree and "echo (Echo) [running" in tree
            await pilot.press("s")
            assert app.sort == "processed" and app.table_rows("actors")[0][0] == "/user/echo"
            await pilot.press("f")
            await pilot.press(*"held", "enter")
            await pilot.pause(0.1)
            assert [row[0] for row in app.table_rows("actors")] == ["/user/held"]
            await pilot.press("q")

    try:
        asyncio.run(drive())
    finally:
        release.set()
    assert app.return_code in (0, None)


def test_top_says_what_to_do_when_nothing_answers() -> None:
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        code = cli._top(cli._parser().parse_args(["top", "--url", "http://127.0.0.1:9", "--once"]), out)
    assert code == 2 and "system.serve_metrics()" in err.getvalue()
    with pytest.raises(OSError):
        fetch("http://127.0.0.1:9", timeout=2)


def test_live_outside_jupyter_keeps_the_history_for_rates(system: rayka.ActorSystem) -> None:
    echo = system.spawn(Echo, name="echo")
    view = system.live(interval=60)  # no refresh on its own here: the first read, then the one stop() takes
    rayka.gather([echo.ask(n) for n in range(20)]).result(timeout=5)
    view.stop()
    assert [counts.get("Echo", 0) for _, counts in view.history] == [0, 20] and view.updates == 2
    rates = view.rates()["Echo"]
    assert any(rate > 0 for _, rate in rates) and all(rate >= 0 for _, rate in rates)
    with pytest.raises(ValueError, match="interval"):
        system.live(interval=0)
