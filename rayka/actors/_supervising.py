"""Supervision, as a parent runs it: decide a directive for a failed child and carry it out.

Mixin of ``ActorCell``; the strategies themselves are data in ``_supervision.py``.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any

from ._lifecycle import RESTART, RESUME, RUNNING, STOP_FAILED, STOPPING, SUSPENDED, TERMINATED
from ._state import CellState
from ._supervision import Directive, Restart

if TYPE_CHECKING:
    from ._cell import ActorCell

__all__ = ["Supervising"]

log = logging.getLogger("rayka")


_RUNTIME = os.path.dirname(os.path.abspath(__file__)) + os.sep


def compact_traceback(error: BaseException) -> str:
    """The traceback of ``error`` without rayka's own frames (the message loop), indented under the summary."""
    trace = traceback.TracebackException.from_exception(error)
    frames = [frame for frame in trace.stack if not frame.filename.startswith(_RUNTIME)]
    trace.stack = traceback.StackSummary.from_list(frames)
    return "".join("  " + line for line in "".join(trace.format()).rstrip().splitlines(keepends=True))


class _Record:
    """Restart bookkeeping of one child: restart times in the window, backoff attempt."""

    __slots__ = ("times", "attempt", "last", "total")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.attempt = 0
        self.last = float("-inf")
        self.total = 0  # restarts over the child's life (shown in the system's tree)

    def allow(self, now: float, max_restarts: int | None, within: float | None) -> bool:
        times = self.times
        if within is not None:
            while times and times[0] <= now - within:
                times.popleft()
        if max_restarts is not None and len(times) >= max_restarts:
            return False
        times.append(now)
        return True


def count_restart(cell: CellState) -> None:
    """One more restart of ``cell`` over its life (what the system's tree shows), whoever decided it."""
    record = cell._record
    if record is None:
        record = cell._record = _Record()
    record.total += 1
    cell.info.stats.restarts += 1


class Supervising(CellState):
    """Mixin of ``ActorCell``: the supervisor half of the cell."""

    __slots__ = ()

    def supervise(self, child: ActorCell, error: BaseException) -> None:
        if child.state == TERMINATED or child.parent_cell is not self:
            return
        if self.state >= STOPPING or self.instance is None:
            child.post_system(STOP_FAILED, error)
            return
        strategy = self.instance.supervisor_strategy
        try:
            directive = strategy.decide(error)
        except BaseException as decider_error:  # noqa: BLE001
            directive, error = Directive.ESCALATE, decider_error
        if directive is Directive.RESTART and child.restart_type is Restart.TEMPORARY:
            directive = Directive.STOP
        explain = getattr(strategy, "explain", None)  # a Supervisor carries out RESTART itself, OTP's way
        decided = explain(error, directive) if explain is not None else directive.value
        log.warning("rayka: %s failed with %r; supervisor %s decided %s\n%s", child.path, error, self.path,
                    decided, compact_traceback(error))
        takeover = getattr(strategy, "takeover", None)
        if directive is Directive.RESTART and takeover is not None:
            takeover(child, error)  # a Supervisor restarts it (and its siblings) in OTP's order itself
            return
        if directive is Directive.RESUME:
            child.post_system(RESUME)
        elif directive is Directive.STOP:
            siblings = list(self._children.values()) if self._children else [child]
            for cell in strategy.affected(siblings, child):
                cell.post_system(STOP_FAILED, error) if cell is child else cell.request_stop()
        elif directive is Directive.ESCALATE:
            self._system.count("escalations")
            self.handler_failed(error, None)
        else:
            self.restart_children(strategy, child, error)

    def restart_children(self, strategy: Any, child: ActorCell, error: BaseException) -> None:
        siblings = list(self._children.values()) if self._children else [child]
        affected = [cell for cell in strategy.affected(siblings, child) if cell.state < STOPPING]
        record = child._record
        if record is None:
            record = child._record = _Record()
        clock = self._system.clock
        now = clock.time()
        if not record.allow(now, strategy.max_restarts, strategy.within):
            log.error("rayka: %s exceeded %s restarts within %s s; stopping it", child.path,
                      strategy.max_restarts, strategy.within)
            for cell in affected:
                cell.post_system(STOP_FAILED, error) if cell is child else cell.request_stop()
            return
        delay = 0.0
        backoff = strategy.backoff
        if backoff is not None:
            if now - record.last >= backoff.reset_window:
                record.attempt = 0
            delay = backoff.delay(record.attempt)
            record.attempt += 1
            record.last = now + delay
        for cell in affected:
            if cell.state == RUNNING:
                cell.state = SUSPENDED
        if delay > 0:
            clock.call_later(delay, functools.partial(_post_restarts, affected, error))
        else:
            _post_restarts(affected, error)

    def resume(self) -> None:
        if self.state != SUSPENDED:
            return
        self.state = RUNNING
        self._failure = None
        for child in list(self._children.values()) if self._children else ():
            if child.state == SUSPENDED:
                child.post_system(RESUME)
        self.wake()


def _post_restarts(cells: list, error: BaseException) -> None:
    for cell in cells:
        cell.post_system(RESTART, error)

