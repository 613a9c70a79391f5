"""rayka: actors with mailboxes, supervision trees, and a router over Ray.

The everyday names live here. ``import rayka`` never imports Ray: the
embedded runtime runs in one process; ``rayka.RayCluster`` loads the Ray
backend on first use.

Example:
    >>> import rayka
    >>> class Echo(rayka.Actor):
    ...     def receive(self, message):
    ...         return message
    >>> with rayka.ActorSystem("doc") as system:
    ...     system.spawn(Echo).ask("ping").result(timeout=1)
    'ping'
"""

from __future__ import annotations

from typing import Any

from . import testing
from ._errors import (
    ActorFailed,
    ActorNotFound,
    ActorStopped,
    AskTimeout,
    ChildError,
    ClassNotImportable,
    RemoteError,
    InvalidActorName,
    JournalError,
    MailboxFull,
    RaykaError,
    RestartLimitExceeded,
    SerializationError,
    SystemClosed,
    TransportError,
)
from .actors import (
    Actor,
    ActorContext,
    ActorRef,
    ActorSystem,
    AllForOne,
    Backoff,
    ChildFailed,
    DeadLetter,
    Directive,
    OneForOne,
    Proxy,
    Reply,
    Restart,
    RestForOne,
    Strategy,
    Terminated,
)
from .actors import ChildSpec, Signal, Supervisor, Timer, gather, wait

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "ActorContext",
    "ActorFailed",
    "ActorNotFound",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "AllForOne",
    "AskTimeout",
    "ClassNotImportable",
    "RemoteError",
    "Backoff",
    "ChildError",
    "ChildFailed",
    "ChildSpec",
    "DeadLetter",
    "Directive",
    "InvalidActorName",
    "JournalError",
    "MailboxFull",
    "OneForOne",
    "Proxy",
    "RayCluster",
    "RaykaError",
    "Reply",
    "RestForOne",
    "Restart",
    "RestartLimitExceeded",
    "SerializationError",
    "Signal",
    "Strategy",
    "Supervisor",
    "SystemClosed",
    "Terminated",
    "Timer",
    "TransportError",
    "__version__",
    "gather",
    "testing",
    "wait",
]


def __getattr__(name: str) -> Any:
    if name == "RayCluster":  # loads the Ray backend only when asked for
        from .cluster import RayCluster

        return RayCluster
    raise AttributeError(f"module 'rayka' has no attribute {name!r}")
