"""Rich display in Jupyter: the supervision tree with mailbox depths."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = ["STATES", "ref_html", "system_html", "tree_lines", "tree_text"]

STATES = ("running", "suspended", "stopping", "terminated")


def tree_lines(cell: Any, depth: int = 0, limit: int = 200) -> list[str]:
    """The subtree under ``cell`` as indented text lines: name, state, queued messages."""
    record = getattr(cell, "_record", None)
    restarts = f", {record.total} restarts" if record is not None and record.total else ""
    mailbox = getattr(cell, "mailbox", None)
    if mailbox is None:  # a child on another node: its own node draws its subtree
        return [f"{'  ' * depth}{cell.name} [on node {getattr(cell, 'node', '?')}{restarts}]"]
    lines = [f"{'  ' * depth}{cell.name or '/'} [{STATES[cell.state]}, {len(mailbox)} queued{restarts}]"]
    children = list(cell._children.values()) if cell._children else []
    for child in children:
        if len(lines) >= limit:
            lines.append(f"{'  ' * (depth + 1)}... {len(children)} children in all")
            break
        lines.extend(tree_lines(child, depth + 1, limit - len(lines)))
    return lines


def tree_text(system: ActorSystem, limit: int | None = None) -> str:
    """The supervision tree under ``/user`` drawn with box lines: name, class, state, queued, restarts.

    With ``limit``, at most that many actors are drawn (then a line says how many were left out).
    """
    lines = [f"/user of system {system.name!r}"]
    _draw(system._user, "", lines, limit)
    return "\n".join(lines)


def _label(cell: Any) -> str:
    record = getattr(cell, "_record", None)
    restarts = record.total if record is not None else 0
    mailbox = getattr(cell, "mailbox", None)
    queued = len(mailbox) if mailbox is not None else "?"
    instance = getattr(cell, "instance", None)
    kind = type(instance).__name__ if instance is not None else "remote" if mailbox is None else "restarting"
    label = f"{cell.name} ({kind}) [{STATES[cell.state]}, {queued} queued"
    return label + (f", {restarts} restart{'s' if restarts != 1 else ''}]" if restarts else "]")


def _draw(cell: Any, prefix: str, lines: list[str], limit: int | None = None) -> None:
    children = list(cell._children.values()) if getattr(cell, "_children", None) else []
    for i, child in enumerate(children):
        if limit is not None and len(lines) > limit:
            lines.append(f"{prefix}└── ... {len(children) - i} more here (the tree is cut at {limit} actors)")
            return
        last = i == len(children) - 1
        lines.append(f"{prefix}{'└── ' if last else '├── '}{_label(child)}")
        _draw(child, prefix + ("    " if last else "│   "), lines, limit)


def system_html(system: ActorSystem) -> str:
    stats = system.statistics()
    tree = "\n".join(tree_lines(system._user))
    cluster = system.cluster
    if cluster is not None and hasattr(cluster, "node_trees"):
        try:
            trees = cluster.node_trees()
        except Exception as error:  # noqa: BLE001 - a display must not raise
            trees = {"?": [f"unavailable: {error!r}"]}
        tree = "\n".join(f"node {node}:\n" + "\n".join("  " + line for line in lines)
                         for node, lines in trees.items()) + "\ndriver:\n" + tree
    return (
        f"<div><b>ActorSystem {html.escape(system.name)}</b> "
        f"({'closed' if system.closed else 'running'}; {stats['actors']} actors, "
        f"{stats.get('restarts', 0)} restarts, {stats['dead_letters']} dead letters)"
        f"<pre>{html.escape(tree)}</pre></div>"
    )


def ref_html(ref: ActorRef) -> str:
    cell = ref._cell
    if getattr(cell, "mailbox", None) is None:  # an actor on another node
        state = "gone" if cell.terminated else "alive as far as known"
        return (f"<div><b>ActorRef</b> <code>{html.escape(ref.path)}</code> on node "
                f"<code>{html.escape(str(getattr(cell, 'node', '?')))}</code> ({state})</div>")
    mailbox = cell.mailbox.statistics()
    return (
        f"<div><b>ActorRef</b> <code>{html.escape(ref.path)}</code> ({STATES[cell.state]}): "
        f"{mailbox.queued} queued, peak {mailbox.peak}, {mailbox.processed} processed, "
        f"{mailbox.dropped} dropped</div>"
    )
