"""Replies that outlive the handler: take over an ask's reply, forward an ask, relay a reply.

Everything in :mod:`rayka.patterns` that answers an ``ask`` later than the
handler returns (a router forwarding an ask to a routee, a work queue holding
a producer's ``Put`` until there is room) goes through this module. It is the
one place that reaches under the public API (the message being handled, and
the length of a local mailbox); the rest of the package only uses ``tell``,
``ask``, ``watch`` and timers, so it keeps working when refs point to other
nodes.

Example:
    >>> import rayka
    >>> class Later(rayka.Actor):
    ...     def __init__(self):
    ...         self.waiting = []
    ...     def receive(self, message):
    ...         if message == "wait":
    ...             self.waiting.append(take_reply(self.context))
    ...         elif message == "release":
    ...             for reply in self.waiting:
    ...                 reply.set_result("released")
    >>> with rayka.ActorSystem("doc") as system:
    ...     ref = system.spawn(Later)
    ...     reply = ref.ask("wait")
    ...     ref.tell("release")
    ...     reply.result(timeout=1)
    'released'
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

from .._errors import RaykaError
from ..actors import DeadLetter
from ..actors.spi import CAST, Call, cell_of

if TYPE_CHECKING:
    from ..actors import ActorContext, ActorRef, Reply

_log = logging.getLogger("rayka.patterns")

__all__ = ["deliver", "forward", "mailbox_size", "refuse", "relay", "take_reply", "tell_function"]


def take_reply(context: ActorContext) -> Reply[Any] | None:
    """Take over the reply of the ask being handled, or ``None`` when it was a ``tell``.

    The handler's return value no longer answers the ask: the caller resolves
    the returned reply itself, later, with ``set_result`` or
    ``set_exception``. The sender stays visible as ``context.sender``.
    """
    return context.defer_reply()


def relay(reply: Reply[Any]) -> Callable[[Reply[Any]], None]:
    """A done-callback that copies one reply's outcome into ``reply``."""

    def copy(inner: Reply[Any]) -> None:
        error = inner.exception(0)
        if error is None:
            reply.set_result(inner.result(0))
        else:
            reply.set_exception(error)

    return copy


def forward(context: ActorContext, ref: ActorRef, message: Any) -> None:
    """Pass ``message`` on to ``ref`` as if its sender had sent it there.

    A ``tell`` keeps its sender. An ``ask`` keeps its reply: a local ``ref``
    gets the asker's own reply in its mailbox and answers the asker directly;
    a ``ref`` on another node is asked in turn and its answer (value or
    error) relayed. Either way this actor carries on with its next message.
    """
    reply = take_reply(context)
    try:
        deliver(ref, message, context.sender, reply)
    except RaykaError as error:  # a full bounded mailbox: the sender hears of it, the forwarder goes on
        if reply is not None:
            reply.set_exception(error)
        else:
            _log.warning("rayka: %s: %s", context.self.path, error)
            context.system.dead_letters.publish(DeadLetter(message, context.sender, ref.path, "overflow"))


def deliver(ref: ActorRef, message: Any, sender: ActorRef | None, reply: Reply[Any] | None) -> None:
    """Hand ``message`` on to ``ref`` with the sender and reply it came with (see :func:`forward`).

    A tell stays a tell; a method call told (a cast) keeps its ``CAST`` slot, so it is still dispatched
    as a call; an ask keeps its reply.
    """
    if reply is None and type(message) is not Call:
        ref.tell(message, sender)
    elif not _deliver_local(ref, (message, sender, reply if reply is not None else CAST)):
        if reply is None:
            ref.tell(message, sender)  # a cast to another node: its node gives the call its CAST slot
        else:
            ref.ask(message, timeout=None).add_done_callback(relay(reply))


def _deliver_local(ref: ActorRef, envelope: tuple) -> bool:
    """Queue an ask's envelope, reply included, straight into a local mailbox (no second ask, no relay).

    A dead or full target fails the reply itself, as a direct ask would.
    """
    put = getattr(cell_of(ref), "put_envelope", None)
    if put is None:  # a ref to another node: ask there and relay the answer
        return False
    put(envelope)
    return True


def answer(reply: Reply[Any] | None, error: BaseException | None, value: Any) -> None:
    """Resolve ``reply`` (if any) with ``error``, or with ``value`` when there is none."""
    if reply is None:
        return
    if error is not None:
        reply.set_exception(error)
    else:
        reply.set_result(value)


def refuse(context: ActorContext, message: Any, error: BaseException) -> None:
    """Answer a message the actor cannot take with ``error``, without failing the actor.

    An ask fails with ``error``; a ``tell`` is logged and goes to dead letters
    (reason ``"refused"``), so the failure always shows somewhere.
    """
    reply = take_reply(context)
    if reply is not None:
        reply.set_exception(error)
        return
    _log.error("rayka: %s", error)
    context.system.dead_letters.publish(DeadLetter(message, context.sender, context.self.path, "refused"))


def mailbox_size(ref: ActorRef) -> int | None:
    """How many messages wait in ``ref``'s mailbox, or ``None`` when that is not known here."""
    mailbox = getattr(cell_of(ref), "mailbox", None)
    if mailbox is None:
        return None
    try:
        return len(mailbox)
    except TypeError:
        return None


def tell_function(ref: ActorRef) -> Callable[[Any, Any], None]:
    """The cheapest callable ``f(message, sender)`` that tells ``ref``, for fan-out loops."""
    tell = getattr(cell_of(ref), "tell", None)
    return tell if tell is not None else ref.tell
