"""The cluster and the patterns reach the core only through its public names, the backend contract and the SPI."""

from __future__ import annotations

import ast
import pathlib

import pytest

import rayka

PACKAGE = pathlib.Path(rayka.__file__).parent
OUTSIDE_THE_CORE = sorted(
    path for path in PACKAGE.rglob("*.py") if "actors" not in path.relative_to(PACKAGE).parts
)
# private attributes of the core's objects (cells, refs, systems, replies, dispatchers)
CORE_PRIVATE = {
    "_cell", "_loop", "_loop_thread", "_user", "_root", "_busy", "_dispatcher", "_children", "_value", "_state",
    "_cluster", "_backend", "_failure", "_system", "_sys", "_receive", "_current", "_watchers", "_watching",
    "_stash", "_timers", "_waiters", "_system_guardian", "_executor", "_topics",
}


def _violations(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if (module.startswith("actors._") or ".actors._" in module or module.startswith("rayka.actors._")):
                found.append(f"line {node.lineno}: from {'.' * node.level}{module} import ...")
        elif isinstance(node, ast.Attribute) and node.attr in CORE_PRIVATE:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"line {node.lineno}: .{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in CORE_PRIVATE):
            found.append(f"line {node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
    return found


@pytest.mark.parametrize("path", OUTSIDE_THE_CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_of_the_core_is_used_outside_it(path: pathlib.Path):
    assert _violations(path) == [], f"{path.relative_to(PACKAGE)} uses the core's internals; use rayka.actors.spi"


def test_the_check_finds_a_private_import_and_a_private_attribute(tmp_path: pathlib.Path):
    bad = tmp_path / "bad.py"
    bad.write_text("from ..actors._cell import ActorCell\n\ndef f(ref):\n    return ref._cell._busy, "
                   "getattr(ref, '_cell')\n")
    assert len(_violations(bad)) == 4
