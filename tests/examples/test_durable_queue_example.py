"""The durable queue example, killed with SIGKILL mid-run and started again: every message reaches the application once."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.conftest import EXAMPLES

pytestmark = pytest.mark.timeout(120)

SCRIPT = str(EXAMPLES / "durable_queue.py")
EXACTLY_ONCE = "delivered exactly once to the application: {n}/{n} ids, 0 missing, 0 twice -> yes"


def start(db: Path, *argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, SCRIPT, "--db", str(db), *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=str(EXAMPLES.parent))


def finish(db: Path, *argv: str) -> str:
    result = subprocess.run([sys.executable, SCRIPT, "--db", str(db), *argv], capture_output=True, text=True,
                            timeout=90, cwd=str(EXAMPLES.parent))
    print(result.stdout, result.stderr)
    assert result.returncode == 0
    return result.stdout


def test_a_process_killed_mid_run_and_started_again_delivers_every_message_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    first = start(db, "--fresh", "--messages", "400", "--work-ms", "4")
    seen = []
    for line in first.stdout:  # wait until it is well under way, then pull the plug
        seen.append(line)
        if line.startswith(" [x] handled 60/400"):
            first.send_signal(signal.SIGKILL)
            break
    rest, _ = first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert "delivered exactly once" not in "".join(seen) + rest  # it really died mid-run
    out = finish(db, "--messages", "400")
    before = int(re.search(r"the application had handled (\d+)/400", out).group(1))
    assert 60 <= before < 400
    assert re.search(r"the queue holds \d+ unacknowledged messages from before", out)
    assert EXACTLY_ONCE.format(n=400) in out
    assert "figures (" in out and "msgs/s" in out


def test_the_crash_after_flag_kills_the_process_and_a_second_run_completes_the_work(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    crashed = subprocess.run([sys.executable, SCRIPT, "--db", str(db), "--fresh", "--messages", "200",
                              "--crash-after", "50"], capture_output=True, text=True, timeout=60)
    assert crashed.returncode == -signal.SIGKILL
    assert " [!] crashing now (SIGKILL) after 50 messages in this run" in crashed.stdout
    out = finish(db, "--messages", "200")
    assert "the application had handled 50/200" in out
    assert EXACTLY_ONCE.format(n=200) in out
    third = finish(db, "--messages", "200")  # nothing left to do, and nothing done twice
    assert "the application handled 0 in this run" in third
    assert EXACTLY_ONCE.format(n=200) in third
