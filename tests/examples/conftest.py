"""Fixtures for the example, notebook and command tests: the examples on sys.path, Ray kept on loopback."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Callable

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
NOTEBOOKS = REPO / "notebooks"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))


@pytest.fixture
def run_example(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """Call ``examples/NAME.py``'s ``main(argv)``; returns its exit code and everything it printed."""

    def run(name: str, *argv: str) -> tuple[int, str]:
        module = importlib.import_module(name)
        code = module.main(list(argv))
        captured = capsys.readouterr()
        out = captured.out + captured.err
        sys.stdout.write(out)  # shown by pytest when the test fails
        return code, captured.out

    return run


def figures_of(out: str) -> dict[str, str]:
    """The lines of the figures block an example printed, by their first word."""
    block = out[out.index("figures ("):]
    return {line.split()[0]: line for line in block.splitlines()[1:5]}
