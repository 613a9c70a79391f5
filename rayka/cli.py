"""The ``rayka`` command: a live demo, the benchmarks, the version.

Examples:
    rayka demo                      # a work queue, a consumer crash, nothing lost
    rayka demo --cluster            # the same on a local Ray cluster, with a node killed
    rayka bench local --quick       # rayka beside pykka and plain asyncio, one process
    rayka bench all --quick         # every benchmark, small sizes
    rayka version
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import sys
import time
from typing import Any, Callable, TextIO

__all__ = ["ProgressBar", "main"]

_BENCHMARKS = ("local", "cluster", "wire", "sharding", "journal", "patterns")


class ProgressBar:
    """A one-line progress bar redrawn in place with ``\\r`` (plain lines when not on a terminal).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = ProgressBar(4, out, width=10, columns=60, tty=True)
        >>> bar.update(1, "first")
        >>> bar.finish("done")
        >>> out.getvalue().rsplit("\\r", 1)[-1]  # each draw erases the whole line first
        '\\x1b[2K[##########] 4/4 done\\n'
    """

    def __init__(self, total: int, stream: TextIO | None = None, *, width: int = 30, columns: int | None = None,
                 tty: bool | None = None) -> None:
        self.total = max(1, total)
        self.stream = stream if stream is not None else sys.stdout
        self.width = width
        self._fixed_columns = columns
        self.columns = columns or shutil.get_terminal_size((100, 20)).columns
        self.tty = self.stream.isatty() if tty is None else tty
        self.done = 0
        self.last_text = ""
        self.last_draw = 0.0

    def line(self, done: int, text: str) -> str:
        filled = round(self.width * min(done, self.total) / self.total)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} {text}"
        return line[: self.columns - 1] if self.tty else line

    def _redraw(self, line: str, end: str = "") -> None:
        """On a terminal: erase the whole line first (``ESC [2K``), so nothing of a longer one is left over,
        whatever the width is now."""
        if self._fixed_columns is None:
            self.columns = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r\x1b[2K" + line[: self.columns - 1] + end)
        self.stream.flush()

    def note(self, text: str) -> None:
        """Print ``text`` on a line of its own above the bar (the bar is drawn again below it)."""
        if self.tty:
            self._redraw(text, "\n")
            self._redraw(self.line(self.done, ""))
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def update(self, done: int, text: str = "", *, event: str = "") -> None:
        """Redraw with ``done`` steps finished.

        Without a terminal it prints a line only when ``event`` changes, a
        quarter of the way is passed, or 5 seconds went by.
        """
        quarter = 4 * min(done, self.total) // self.total
        if self.tty:
            self._redraw(self.line(done, text))
        elif (event != self.last_text or quarter != 4 * self.done // self.total
              or time.monotonic() - self.last_draw > 5):
            self.stream.write(self.line(done, text) + "\n")
            self.stream.flush()
            self.last_draw = time.monotonic()
        self.done = done
        self.last_text = event

    def finish(self, text: str = "") -> None:
        """Draw the bar full and end the line."""
        if self.tty:
            self._redraw(self.line(self.total, text), "\n")
        else:
            self.stream.write(self.line(self.total, text) + "\n")
        self.stream.flush()


class _Collect(logging.Handler):
    """Keep rayka's log lines (a failure, a supervisor's decision) for the progress line instead of stderr."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _cluster(enabled: bool, ray_logs: bool = False) -> Any:
    if not enabled:
        return None
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from .cluster import RayCluster

    return RayCluster(nodes=2, log_to_driver=ray_logs)  # Ray's worker logs would break the bar's line


# -- rayka demo -------------------------------------------------------------------
def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from . import _demo

    where = "on a local Ray cluster (2 node runtimes; n1 is killed half-way)" if args.cluster else "embedded"
    print(f"rayka demo: {args.jobs} jobs through a work queue to {args.workers} supervised consumers, {where}; "
          "one consumer crashes in the middle of a job", file=out, flush=True)
    bar = ProgressBar(args.jobs, out)
    collect = _Collect()
    logger = logging.getLogger("rayka")
    propagate = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    notes: list[str] = []

    def progress(p: Any) -> None:
        if p.note and p.note not in notes:
            notes.append(p.note)
            bar.note(f" [!] {p.note}")
        text = (f"results | queue: {p.pending} pending, {p.in_flight} in flight, {p.redelivered} redelivered"
                + (f" | {notes[-1]}" if notes else ""))
        bar.update(p.results, text, event=notes[-1] if notes else "")

    try:
        result = _demo.run(jobs=args.jobs, workers=args.workers, work=args.work_ms / 1000, crash_on=args.crash_on,
                           cluster=_cluster(args.cluster, args.ray_logs), on_progress=progress)
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    bar.finish(f"results in {result.seconds:.2f} s")
    for line in collect.lines:
        if "decided" in line or "gone" in line:
            first, *more = line.splitlines()  # Ray's errors run over several lines: the first says it
            print(f"  log: {first}{' ...' if more else ''}", file=out)
    print(f"producer confirmed {result.confirmed}/{result.total} results; missing {len(result.missing)}, "
          f"duplicates {result.duplicates}; {result.redelivered} deliveries repeated by the queue", file=out)
    print(f"jobs per consumer: {result.by}", file=out)
    print("nothing lost" if result.nothing_lost else f"LOST: {result.missing}", file=out, flush=True)
    return 0 if result.nothing_lost else 1


# -- rayka bench ------------------------------------------------------------------
def _bench_one(name: str, args: argparse.Namespace, out: TextIO) -> dict:
    import importlib

    module = importlib.import_module(f"rayka.bench.{name}")
    bar = ProgressBar(1, out)
    steps = re.compile(r"\[(\d+)/(\d+)\]\s*(.*)")
    seen = [0]

    def progress(text: str) -> None:
        match = steps.match(text)
        if match:
            bar.total = int(match.group(2))
            bar.update(int(match.group(1)) - 1, match.group(3), event=match.group(3))
        else:
            seen[0] += 1
            bar.total = max(bar.total, seen[0] + 1)
            bar.update(seen[0] - 1, text, event=text)

    print(f"rayka bench {name}{' --quick' if args.quick else ''}:", file=out, flush=True)
    began = time.perf_counter()
    if name == "local":
        report = module.run(args.quick, args.repeat, progress, scale=args.scale)
    elif name in ("cluster", "wire", "sharding"):
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if name == "sharding":
            report = module.run(quick=args.quick, progress=progress)
        else:
            report = module.run(args.quick, args.repeat, progress=progress)
    else:
        bar.update(0, "running (no step-by-step progress for this one)", event="running")
        report = module.run(args.quick)
    bar.finish(f"done in {time.perf_counter() - began:.1f} s")
    render: Callable[..., Any] | None = getattr(module, "render", None)
    if render is not None:
        render(report, write=lambda text: print(text, file=out))
    else:
        print(module._table(report), file=out)
    out.flush()
    return report


def _bench(args: argparse.Namespace, out: TextIO) -> int:
    names = list(_BENCHMARKS) if args.which == "all" else [args.which]
    reports = {}
    for name in names:
        reports[name] = _bench_one(name, args, out)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(reports, handle, indent=2, default=str)
        print(f"reports written to {args.json}", file=out)
    return 0


# -- rayka top ----------------------------------------------------------------------
def _top(args: argparse.Namespace, out: TextIO) -> int:
    import importlib.util

    from .observe._top import Frame, fetch, render_text

    if importlib.util.find_spec("rich") is None:
        print("rayka top needs textual (and rich, which it brings): pip install 'rayka[top]'", file=sys.stderr)
        return 2
    if args.once:
        try:
            first = fetch(args.url, top=args.top)
        except OSError as error:
            print(f"rayka top: cannot read {args.url}/rayka.json: {error}; start the system's endpoint with "
                  "system.serve_metrics() and pass its url", file=sys.stderr)
            return 2
        second = None
        if args.interval > 0:
            time.sleep(args.interval)  # two snapshots: the rates are the difference
            second = fetch(args.url, top=args.top)
        frame = Frame(second or first, first if second else None, args.sort, args.filter or "")
        print(render_text(frame, width=args.width), file=out, end="")
        return 0
    try:
        from .observe._top import app
    except ImportError:
        print("rayka top needs textual: pip install 'rayka[top]' (or use --once)", file=sys.stderr)
        return 2
    app(lambda: fetch(args.url, top=args.top), args.interval).run()
    return 0


# -- rayka version ------------------------------------------------------------------
def _version(args: argparse.Namespace, out: TextIO) -> int:
    from importlib import metadata

    from . import __version__

    try:
        ray = metadata.version("ray")
    except metadata.PackageNotFoundError:
        ray = "not installed"
    print(f"rayka {__version__} (Python {platform.python_version()}, Ray {ray})", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rayka",
        description="rayka: actors with mailboxes and supervision trees, embedded or over a Ray cluster.",
        epilog="Run 'rayka COMMAND --help' for a command's options. Cluster mode starts a local Ray on 127.0.0.1.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run a work queue with a consumer crash, showing live progress",
        description="Put jobs into a rayka.patterns.WorkQueue consumed by supervised consumers. One consumer "
                    "crashes in the middle of a job; its supervisor restarts it and the queue delivers the job "
                    "again. The producer confirms that every result came back: nothing lost.")
    demo.add_argument("--jobs", type=int, default=200, help="jobs to put (default 200)")
    demo.add_argument("--workers", type=int, default=4, help="consumers (default 4)")
    demo.add_argument("--work-ms", type=float, default=20.0, help="milliseconds per job (default 20)")
    demo.add_argument("--crash-on", type=int, default=None, help="job that crashes its consumer (default: jobs/3)")
    demo.add_argument("--cluster", action="store_true",
                      help="run on a local Ray cluster of 2 node runtimes and kill one half-way")
    demo.add_argument("--ray-logs", action="store_true",
                      help="with --cluster: also show the log lines Ray forwards from its workers (off: they break "
                           "the progress line)")
    demo.set_defaults(run=_demo)

    bench = commands.add_parser(
        "bench", help="run the benchmarks and print the comparison tables",
        description="Run rayka's benchmarks with a progress bar, then print each comparison table. "
                    "local: rayka beside pykka and plain asyncio in one process; cluster: across Ray node "
                    "runtimes beside raw Ray calls; journal: the SQLite and PostgreSQL journals' group "
                    "commit; patterns: work queues, durable queues, topics, routers.")
    bench.add_argument("which", nargs="?", choices=(*_BENCHMARKS, "all"), default="local",
                       help="which benchmark (default: local)")
    bench.add_argument("--quick", action="store_true", help="small sizes: seconds instead of minutes")
    bench.add_argument("--repeat", type=int, default=3, help="runs per case for local and cluster (default 3)")
    bench.add_argument("--scale", type=float, default=1.0, help="multiply the local benchmark's sizes by this")
    bench.add_argument("--json", metavar="PATH", help="also write the reports as JSON here")
    bench.set_defaults(run=_bench)

    top = commands.add_parser(
        "top", help="a live view of a running system: nodes, actor classes, busiest actors, dead letters",
        description="Attach to a running system's metrics endpoint (start it in that process with "
                    "url = system.serve_metrics().url; a cluster's driver covers every node) and show it live. "
                    "Keys: s sorts (rate, processed, queued, restarts), f filters, q quits.")
    top.add_argument("--url", required=True, help="the endpoint, e.g. http://127.0.0.1:9464")
    top.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    top.add_argument("--once", action="store_true", help="print one frame (two snapshots, for rates) and exit")
    top.add_argument("--sort", choices=("rate", "processed", "queued", "restarts"), default="rate")
    top.add_argument("--filter", help="show only classes, actors and nodes containing this text")
    top.add_argument("--width", type=int, default=140, help="columns for --once (default 140)")
    top.add_argument("--top", type=int, default=50, help="how many of the busiest actors to show (default 50)")
    top.set_defaults(run=_top)

    version = commands.add_parser("version", help="print the versions of rayka, Python and Ray")
    version.set_defaults(run=_version)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``rayka`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args, sys.stdout)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
