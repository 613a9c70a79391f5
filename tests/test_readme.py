"""The README's porting guides run: the code under "Coming from Ray" and "Coming from Pykka" is executed."""

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
