"""The public surface of rayka.patterns: every module lists what it defines, and nothing else."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import rayka.patterns

pytestmark = pytest.mark.timeout(30)


def test_every_patterns_module_has_an_all_that_names_only_what_it_defines() -> None:
    for info in pkgutil.iter_modules(rayka.patterns.__path__, "rayka.patterns."):
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), f"{info.name} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.__all__ lists {name!r}, which it does not define"


def test_the_package_re_exports_every_public_name() -> None:
    for name in rayka.patterns.__all__:
        assert getattr(rayka.patterns, name) is not None
    assert sorted(rayka.patterns.__all__) == rayka.patterns.__all__
