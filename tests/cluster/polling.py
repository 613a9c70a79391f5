"""Waiting for cluster state that is observed, not signalled (membership, shard placement)."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Call ``check`` every 0.1 s until it returns something true, and return that; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout} s: {getattr(check, '__qualname__', check)}")
