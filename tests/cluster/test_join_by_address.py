"""Joining a token-protected cluster by address: without the token a clear error says what to set; with it, it works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(360)]
REPO = Path(__file__).resolve().parents[2]


def test_joining_without_the_token_says_what_to_set_and_with_it_the_driver_works(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    done = subprocess.run([sys.executable, str(REPO / "tests" / "cluster" / "join_drill.py")], cwd=REPO,
                          env={**env, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=330)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    kind, text, _ = result["without"]
    assert kind == "TransportError", result["without"]
    assert "RAY_AUTH_MODE=token" in text and "ray get-auth-token" in text and "RAY_AUTH_TOKEN" in text
    assert result["with"][:2] == ["joined", 1], result["with"]  # the same cluster, joined with its token
