"""Helpers for the local benchmark: repeat summaries, number formatting, the text table.

A *summary* is ``{"median": m, "min": lo, "max": hi, "samples": [...]}`` over
the repetitions of one figure. The table shows ``median (min-max)`` per cell.

Example:
    >>> summarize([3.0, 1.0, 2.0])["median"]
    2.0
    >>> human(1_620_000)
    '1.62M'
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Callable, Sequence

__all__ = ["PEERS", "Row", "emit_json", "human", "percentile", "render_table", "summarize"]


def emit_json(report: dict[str, Any], path: str | None = None) -> None:
    """Print ``report`` as one JSON line, and write it (indented) to ``path`` when one is given."""
    import json

    print(json.dumps(report))
    if path:
        with open(path, "w") as out:
            json.dump(report, out, indent=2)


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """Return the median, min, max and the samples themselves (rounded for the JSON)."""
    values = [float(value) for value in samples]
    return {
        "median": _round(statistics.median(values)),
        "min": _round(min(values)),
        "max": _round(max(values)),
        "samples": [_round(value) for value in values],
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` 0.99 for p99).

    Example:
        >>> percentile([1, 2, 3, 4], 0.5)
        2
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _round(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    digits = max(0, 5 - int(math.floor(math.log10(abs(value)))))
    return round(value, digits)


def human(value: float) -> str:
    """Format a number compactly: 1.62M, 181k, 12.3, 0.714.

    Example:
        >>> human(181_234), human(12.345), human(0.7142)
        ('181k', '12.3', '0.714')
    """
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return _three(value / limit) + suffix
    return _three(value)


def _three(value: float) -> str:
    """Three significant digits, no exponent."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


class Row:
    """One table line: a label, where to find the figure in each peer's results, and a unit scale.

    Args:
        label: the first column (name the unit there).
        case: the case key in the report.
        metric: the figure's key in each peer's results.
        scale: multiply the raw figure by this for display (1/1024 for KiB).
        ratio: show the rayka/pykka ratio column for this row.
    """

    __slots__ = ("label", "case", "metric", "scale", "ratio")

    def __init__(self, label: str, case: str, metric: str, *, scale: float = 1.0, ratio: bool = True) -> None:
        self.label = label
        self.case = case
        self.metric = metric
        self.scale = scale
        self.ratio = ratio


PEERS = ("rayka", "pykka", "asyncio")


def _cell(case: dict[str, Any], peer: str, row: Row) -> tuple[str, float | None]:
    results = case.get(peer)
    if results is None:
        return "-", None
    if "error" in results:
        return "ERROR", None
    summary = results.get(row.metric)
    if summary is None:
        return "-", None
    median = summary["median"] * row.scale
    if summary["min"] == summary["max"]:
        return human(median), median
    low, high = summary["min"] * row.scale, summary["max"] * row.scale
    return f"{human(median)} ({human(low)}-{human(high)})", median


def render_table(report: dict[str, Any], rows: Sequence[Row], write: Callable[[str], Any] = print) -> None:
    """Write the plain-text table of ``report`` for ``rows``, one line per call to ``write``."""
    header = ["case", *PEERS, "rayka/pykka"]
    lines: list[list[str]] = []
    for row in rows:
        case = report["cases"].get(row.case)
        if case is None:
            continue
        cells = [_cell(case, peer, row) for peer in PEERS]
        rayka, pykka = cells[0][1], cells[1][1]
        ratio = f"{rayka / pykka:.3g}x" if row.ratio and rayka is not None and pykka else "-"
        lines.append([row.label, *(text for text, _ in cells), ratio])
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        return " | ".join(text.ljust(widths[i]) if i == 0 else text.rjust(widths[i]) for i, text in enumerate(line))

    write(fmt(header))
    write("-+-".join("-" * width for width in widths))
    for line in lines:
        write(fmt(line))
    for key, case in report["cases"].items():
        for peer in PEERS:
            error = (case.get(peer) or {}).get("error")
            if error:
                write(f"ERROR in {key} / {peer}: {error}")
