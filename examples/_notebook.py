"""Helpers for the notebooks: cells that can be run again, a drawn supervision tree, inline figures.

Jupyter runs cells again and again. A cell that spawns ``name="hello"`` a
second time would fail (the name is taken), and a cell that builds a new
``ActorSystem`` each time would leave the previous one running. So:

- :func:`get_or_create_system` returns the running system of that name, or makes one;
- :func:`get_or_spawn` returns the live actor of that name, or spawns it.

Both belong in rayka itself one day (``ActorSystem.get_or_spawn``); until
then they live here, built on ``lookup`` and ``spawn``.
"""

from __future__ import annotations

import io
from typing import Any

import rayka

__all__ = ["get_or_create_system", "get_or_spawn", "show", "shutdown_all", "tree", "tree_text"]

_SYSTEMS: dict[str, rayka.ActorSystem] = {}
_STATES = ("running", "suspended", "stopping", "terminated")


def get_or_create_system(name: str, **options: Any) -> rayka.ActorSystem:
    """The running ``ActorSystem`` called ``name`` made by this helper, or a new one with ``options``."""
    system = _SYSTEMS.get(name)
    if system is not None and not system.closed:
        return system
    system = rayka.ActorSystem(name, **options)
    _SYSTEMS[name] = system
    return system


def shutdown_all() -> None:
    """Shut down every system :func:`get_or_create_system` made."""
    while _SYSTEMS:
        _, system = _SYSTEMS.popitem()
        system.shutdown()


def get_or_spawn(system: rayka.ActorSystem, cls: type, *args: Any, name: str, replace: bool = False,
                 **kwargs: Any) -> rayka.ActorRef:
    """Return the live top-level actor ``name``, or spawn ``cls(*args, **kwargs)`` under that name.

    Running the cell again returns the same ref instead of failing on the
    taken name or starting a second actor. ``replace=True`` stops the
    running one first (after the class was edited, say) and spawns afresh.
    ``node=`` and ``mailbox=`` go to ``spawn`` as usual.
    """
    return system.get_or_spawn(cls, *args, name=name, replace=replace, **kwargs)


def _label(cell: Any) -> str:
    record = getattr(cell, "_record", None)
    restarts = record.total if record is not None else 0
    queued = len(cell.mailbox) if hasattr(cell, "mailbox") else "?"
    instance = getattr(cell, "instance", None)
    kind = type(instance).__name__ if instance is not None else "remote"
    label = f"{cell.name} ({kind}) [{_STATES[cell.state]}, {queued} queued"
    return label + (f", {restarts} restart{'s' if restarts != 1 else ''}]" if restarts else "]")


def _tree_lines(cell: Any, prefix: str, lines: list[str]) -> list[str]:
    children = list(cell._children.values()) if getattr(cell, "_children", None) else []
    for i, child in enumerate(children):
        last = i == len(children) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{_label(child)}")
        _tree_lines(child, prefix + ("    " if last else "│   "), lines)
    return lines


def tree_text(system: rayka.ActorSystem) -> str:
    """The supervision tree under ``/user`` as text: name, class, state, queued messages, restarts."""
    return "\n".join(_tree_lines(system._user, "", [f"/user of system {system.name!r}"]))


def tree(system: rayka.ActorSystem) -> None:
    """Print :func:`tree_text`."""
    print(tree_text(system), flush=True)


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
