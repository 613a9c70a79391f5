"""The cluster-wide registry: names and the top-level actors to restart when their node is lost.

It is a small async Ray actor, not a node runtime, and it never waits on a
member for anything but pushing a change: so a member that talks to it can
never be part of a wait cycle. Every change to a name is pushed to every
node runtime (awaited, with a short bound, before the change is answered),
so a node reads names from its own replica without a Ray call: a name the
driver registered is visible on every live node once ``spawn`` returned.

Entries are keyed by the actor's ref key ``(node, path, uid)``. A removal
that arrives before its entry (an actor that stopped at once) leaves a
tombstone, so the late entry is ignored and a stopped actor is never
restarted by node-loss recovery.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

__all__ = ["Registry"]

log = logging.getLogger("rayka.cluster")
_PUSH_TIMEOUT = 2.0  # seconds a name change waits for the node runtimes' replicas
_TOMBSTONES = 10_000


class Registry:
    """Names -> keys, and keys -> what is needed to start a top-level actor again."""

    def __init__(self) -> None:
        self.names: dict[str, tuple] = {}
        self.entries: dict[tuple, tuple] = {}  # key -> (name, blob, restart)
        self.members: dict[str, Any] = {}
        self.version = 0
        self.tombstones: OrderedDict[tuple, None] = OrderedDict()

    def join(self, node: str, handle: Any) -> tuple[int, dict]:
        """A node runtime (or a new incarnation of one) joins: it gets every name so far."""
        self.members[node] = handle
        return self.version, {name: list(key) for name, key in self.names.items()}

    def leave(self, node: str) -> None:
        self.members.pop(node, None)

    async def add(self, key: list, name: str | None, blob: bytes | None, restart: str,
                  replacing: list | None = None) -> list | None:
        """Record a top-level actor; returns the key that holds ``name`` already, or ``None`` when added.

        ``replacing``: the key of a terminated holder of the name that the caller has seen die.
        """
        entry_key = tuple(key)
        if entry_key in self.tombstones:
            return None
        if name is not None:
            held = self.names.get(name)
            if held is not None and held != entry_key and (replacing is None or held != tuple(replacing)):
                return list(held)
            if held is not None and held != entry_key:
                self.entries.pop(held, None)
            self.names[name] = entry_key
        self.entries[entry_key] = (name, blob, restart)
        if name is not None:
            await self._push(name, entry_key)
        return None

    async def remove(self, key: list) -> None:
        """An actor terminated: forget it and free its name (if it still holds it)."""
        entry_key = tuple(key)
        entry = self.entries.pop(entry_key, None)
        if entry is None:
            self.tombstones[entry_key] = None
            if len(self.tombstones) > _TOMBSTONES:
                self.tombstones.popitem(last=False)
            return
        name = entry[0]
        if name is not None and self.names.get(name) == entry_key:
            del self.names[name]
            await self._push(name, None)

    def lookup(self, name: str) -> list | None:
        key = self.names.get(name)
        return list(key) if key is not None else None

    async def take_node(self, node: str) -> list[tuple]:
        """The entries of a node that was lost, removed (their names too): the caller restarts them."""
        self.members.pop(node, None)
        lost = [(list(key), *entry) for key, entry in self.entries.items() if key[0] == node]
        for key, name, _blob, _restart in lost:
            del self.entries[tuple(key)]
            if name is not None and self.names.get(name) == tuple(key):
                del self.names[name]
                await self._push(name, None)
        return lost

    async def _push(self, name: str, key: tuple | None) -> None:
        self.version += 1
        version = self.version
        value = list(key) if key is not None else None
        calls = [handle.names_changed.remote(version, name, value) for handle in self.members.values()]
        if not calls:
            return
        done, pending = await asyncio.wait([asyncio.ensure_future(_as_future(c)) for c in calls],
                                           timeout=_PUSH_TIMEOUT)
        if pending:
            log.warning("rayka: %d node runtimes did not take the change of name %r within %s s",
                        len(pending), name, _PUSH_TIMEOUT)


async def _as_future(ref: Any) -> Any:
    try:
        return await ref
    except Exception:  # noqa: BLE001 - a member that died; membership handles it
        return None
