"""Actors the observability tests share."""

from __future__ import annotations

import threading
from typing import Any

import rayka


class Echo(rayka.Actor):
    """Answers its message; ``"boom"`` fails it."""

    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return message


class Held(rayka.Actor):
    """A blocking actor that waits on a ``threading.Event`` it is sent, so its mailbox backs up meanwhile."""

    blocking = True

    def receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            message.wait(10)
        return message
