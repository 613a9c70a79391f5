"""Messages and actors for the msgpack-only wire tests: imported by name on the node runtimes."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

import rayka
from rayka.cluster import register


@register
@dataclass(frozen=True)
class Added:
    item: str
    count: int
    tags: tuple = ()


@register
class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


@dataclass(frozen=True)
class NotRegistered:
    value: int


@register
def by_size(message):
    """A registered function: a Priority mailbox key that travels by name."""
    return 0 if isinstance(message, Added) and message.count == 0 else 1


class CartError(Exception):
    """A domain error: rebuilt as itself where this module is imported."""


class Cart(rayka.Actor):
    def __init__(self, owner: str, size: Size = Size.SMALL) -> None:
        self.owner, self.size, self.items = owner, size, []

    async def receive(self, message):
        if isinstance(message, Added):
            self.items.append(message)
            return len(self.items)
        if message == "items":
            return list(self.items)
        if message == "whoami":
            return [self.owner, self.size, os.getpid()]
        if message == "fail":
            raise CartError(f"cart of {self.owner} refused")
        if message == "fail-node-only":
            from tests.cluster.wire_node_errors import StockError

            raise StockError(f"no stock for {self.owner}")
        if isinstance(message, list) and message and message[0] == "forward":
            return await message[1].ask(message[2])
        if isinstance(message, list) and message and message[0] == "send":
            target, count = message[1], message[2]
            for i in range(count):
                target.tell(Added("n", i, (self.owner,)))
            return await target.ask("items")
        return None

    def add(self, item: str, count: int = 1) -> Added:
        added = Added(item, count)
        self.items.append(added)
        return added
