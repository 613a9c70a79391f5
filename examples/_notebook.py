"""Helpers for the notebooks: inline figures, and short names for what rayka offers notebooks.

Jupyter runs cells again and again. rayka itself now has what a cell needs
to be run again: ``rayka.ActorSystem.get_or_create(name)`` returns the
running system instead of starting a second one (making a second one under
a running name warns), ``system.get_or_spawn(cls, name=...)`` the live actor,
and ``system.tree()`` draws the supervision tree. The names below keep the
notebooks short.
"""

from __future__ import annotations

import io
from typing import Any

import rayka

__all__ = ["get_or_create_system", "get_or_spawn", "show", "shutdown_all", "tree", "tree_text"]

_SYSTEMS: dict[str, rayka.ActorSystem] = {}


def get_or_create_system(name: str, **options: Any) -> rayka.ActorSystem:
    """``rayka.ActorSystem.get_or_create(name, **options)``, remembered for :func:`shutdown_all`."""
    system = _SYSTEMS[name] = rayka.ActorSystem.get_or_create(name, **options)
    return system


def shutdown_all() -> None:
    """Shut down every system :func:`get_or_create_system` returned."""
    while _SYSTEMS:
        _, system = _SYSTEMS.popitem()
        system.shutdown()


def get_or_spawn(system: rayka.ActorSystem, cls: type, *args: Any, name: str, replace: bool = False,
                 **kwargs: Any) -> rayka.ActorRef:
    """``system.get_or_spawn(cls, *args, name=name, replace=replace, **kwargs)``."""
    return system.get_or_spawn(cls, *args, name=name, replace=replace, **kwargs)


def tree_text(system: rayka.ActorSystem) -> str:
    """``system.tree()``: the supervision tree under ``/user`` as text."""
    return system.tree()


def tree(system: rayka.ActorSystem) -> None:
    """Print ``system.tree()``."""
    print(system.tree(), flush=True)


def show(figure: Any, path: str | None = None) -> None:
    """Display a matplotlib figure inline as a PNG (works with the Agg backend), optionally saving it too."""
    from IPython.display import Image, display

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    if path is not None:
        figure.savefig(path, dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    display(Image(data=buffer.getvalue(), format="png"))
