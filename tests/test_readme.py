"""The README's code runs: the porting guides ("Coming from Ray", "Coming from Pykka") and the entities example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("section", ["Coming from Ray", "Coming from Pykka"])
def test_the_porting_guide_code_runs(section: str) -> None:
    blocks = _python_blocks(section)
    assert len(blocks) == 1, section
    exec(compile(blocks[0], f"README: {section}", "exec"), {"__name__": "readme"})


@pytest.mark.timeout(60)
def test_the_sharded_entities_example_runs_and_reaches_one_incarnation() -> None:
    (block,) = _python_blocks("Sharded entities (virtual actors)")
    namespace: dict = {"__name__": "readme"}
    exec(compile(block, "README: Sharded entities", "exec"), namespace)
    assert namespace["count"] == 2 and namespace["stats"].activations == 1
