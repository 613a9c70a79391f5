"""The pool benchmark (embedded, 1 and 2 node runtimes) runs end to end at a tiny size, in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.cluster
@pytest.mark.timeout(300)
def test_the_pool_benchmark_reports_every_setting(tmp_path: Path) -> None:
    out = tmp_path / "pool.json"
    done = subprocess.run(
        [sys.executable, "-m", "rayka.bench.pool", "--items", "4", "--work", "1", "--repeat", "1", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=280,
        env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    for key in ("embedded_2_routees_s", "nodes_1_s", "nodes_2_s", "speedup_2_nodes_over_1"):
        assert report[key] > 0, report
    assert "2 nodes over 1:" in done.stdout
