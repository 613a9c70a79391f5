"""The actor core: actors, refs, contexts, the system, supervision and signals.

Imports nothing from Ray: the embedded runtime runs in one process.
"""

from __future__ import annotations

from ._actor import Actor
from ._context import ActorContext
from ._deadletters import DeadLetters
from ._reply import Reply
from ._ref import DEFAULT_ASK_TIMEOUT, ActorRef
from ._signals import ChildFailed, DeadLetter, Signal, Terminated
from ._supervision import DEFAULT_STRATEGY, AllForOne, Backoff, Directive, OneForOne, Restart, RestForOne, Strategy
from ._supervisor import ChildSpec, Supervisor
from ._system import ActorSystem
from ._timers import Clock, LoopClock, Timer

__all__ = [
    "DEFAULT_ASK_TIMEOUT",
    "DEFAULT_STRATEGY",
    "Actor",
    "ActorContext",
    "ActorRef",
    "ActorSystem",
    "AllForOne",
    "Backoff",
    "ChildFailed",
    "ChildSpec",
    "Clock",
    "DeadLetter",
    "DeadLetters",
    "Directive",
    "LoopClock",
    "OneForOne",
    "Reply",
    "RestForOne",
    "Restart",
    "Signal",
    "Strategy",
    "Supervisor",
    "Terminated",
    "Timer",
]
