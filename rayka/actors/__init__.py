"""The actor core: actors, refs, contexts, the system, supervision and signals.

Imports nothing from Ray: the embedded runtime runs in one process.
"""

from __future__ import annotations

from ._actor import Actor
from ._calls import Proxy
from ._context import ActorContext
from ._deadletters import DeadLetters
from ._reply import Reply
from ._ref import DEFAULT_ASK_TIMEOUT, ActorRef
from ._signals import ChildFailed, DeadLetter, Signal, Terminated
from ._supervision import DEFAULT_STRATEGY, AllForOne, Backoff, Directive, OneForOne, Restart, RestForOne, Strategy
from ._childspec import (
    ChildCount, ChildInfo, ChildSpec, CountChildren, DeleteChild, GetChildSpec, RestartChild, StartChild,
    TerminateChild, WhichChildren,
)
from ._supervisor import Supervisor
from ._system import ActorSystem
from ._timers import Clock, LoopClock, Timer
from ._waiting import gather, wait

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
    "ChildCount",
    "ChildInfo",
    "ChildSpec",
    "Clock",
    "CountChildren",
    "DeadLetter",
    "DeadLetters",
    "DeleteChild",
    "Directive",
    "GetChildSpec",
    "LoopClock",
    "OneForOne",
    "Proxy",
    "Reply",
    "RestForOne",
    "Restart",
    "RestartChild",
    "Signal",
    "StartChild",
    "Strategy",
    "Supervisor",
    "TerminateChild",
    "Terminated",
    "Timer",
    "WhichChildren",
    "gather",
    "wait",
]
