"""Benchmarks: ``python -m rayka.bench.local``, ``.cluster``, ``.journal``, ``.ray_raw``, ``.patterns``.

Speed is measured here, side by side with the peers in one run, never in tests.
"""

from __future__ import annotations

__all__: list[str] = []
