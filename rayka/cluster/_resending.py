"""Batches in flight: acknowledged once, sent again while their peer is suspect, never lost silently.

Mixin of :class:`~rayka.cluster._transport.Transport`. A failed call makes the
peer *suspect* and the batch is sent again with backoff; a call nobody
answers (a reset connection can swallow one) is sent again when overdue; a
batch the receiver found damaged (it answers ``NACK``) is sent again from our
intact copy. The receiver drops duplicates by sequence number. Only
membership downs a node.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..actors.spi import DeadLetter
from ._kinds import Kind
from ._receiving import NACK

if TYPE_CHECKING:
    from ._transport import Peer, Transport

__all__ = ["Resending"]

log = logging.getLogger("rayka.cluster")
TELL = Kind.TELL
_DAMAGE_RETRIES = 10  # damaged deliveries of one batch before its tells are given up to dead letters
_get_ident = threading.get_ident


class _Sent:
    """A batch in flight: acknowledged once, by whichever thread sees its Ray call finish first.

    A batch that carries the ask of a thread about to block on its reply is
    *assisted*: that thread waits on the Ray call itself (``wait``), as a raw
    ``ray.get`` would, instead of a callback on Ray's thread waking it. Any
    other use of the reply, or the next batch on the stream, *detaches* it:
    from then on a done-callback completes it, as for every other batch.
    """

    __slots__ = ("transport", "peer", "first_seq", "ack", "data", "lock", "done", "detached", "tries")

    def __init__(self, transport: Transport, peer: Peer, first_seq: int, ack: Any, data: Any) -> None:
        self.transport = transport
        self.peer = peer
        self.first_seq = first_seq
        self.ack = ack
        self.data = data  # kept until acknowledged: resent as is while the peer is suspect
        self.lock = threading.Lock()
        self.done = False
        self.detached = False
        self.tries = 0  # times the receiver found it damaged
        transport.unfinished.add(self)

    def finish(self) -> None:
        """Done with it: drop the Ray object refs (one that outlives ray.shutdown() ends the process)."""
        self.done = True
        self.ack = None
        self.transport.unfinished.discard(self)

    def detach(self, patience: float = 1.0) -> None:
        with self.lock:
            if self.detached or self.done or self.transport.closed:
                return
            self.detached = True
        transport = self.transport
        self.ack.future().add_done_callback(functools.partial(transport._acked, self))
        # a call can also vanish (a connection reset under it): if unacknowledged after `patience`, send it again
        transport.call_later(patience, transport._overdue, self, patience)

    def wait(self, timeout: float | None) -> None:
        try:
            replies = self.transport._get(self.ack, timeout=timeout)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a timeout, or the node died: the done-callback takes over
            self.detach()
            return
        self.transport._complete(self, replies)


class Resending:
    """Mixin of the Transport: what happens to a batch after its Ray call was made."""

    if TYPE_CHECKING:
        node_id: str
        system: Any
        loop: Any
        loop_thread: int
        closed: bool
        decoder: Any
        peers: dict
        unfinished: set
        _get: Any

        def ack(self, peer: Peer, first_seq: int) -> None: ...
        def _arm(self, peer: Peer) -> None: ...
        def _deliver(self, record: list, park: bool = True) -> None: ...
        def ref_for(self, key: tuple) -> Any: ...

    def _acked(self, sent: _Sent, future: Any) -> None:
        error = future.exception()
        if error is not None:
            self.loop.call_soon_threadsafe(self._suspect, sent, error)
            return
        self._complete(sent, future.result())

    def _suspect(self, sent: _Sent, error: BaseException) -> None:
        """A call to a peer failed: suspect it and send the batch again; only membership downs a node (on the loop)."""
        peer = sent.peer
        if not peer.alive or self.closed or sent.done:
            return
        if peer.suspect_since is None:
            peer.suspect_since = time.monotonic()
            log.warning("rayka: node %s suspects node %s (%s); resending its unacknowledged batches",
                        self.node_id, peer.node, type(error).__name__)
        peer.failures += 1
        delay = min(1.0, 0.02 * 2 ** min(peer.failures, 6))
        self.loop.call_later(delay, self._resend, sent)

    def _damaged(self, sent: _Sent) -> None:
        sent.tries += 1
        if sent.tries <= _DAMAGE_RETRIES:
            log.warning("rayka: node %s: node %s got batch %d damaged; sending it again", self.node_id,
                        sent.peer.node, sent.first_seq)
            self._resend(sent)
            return
        log.error("rayka: node %s: batch %d to node %s arrived damaged %d times; giving its tells up to dead "
                  "letters", self.node_id, sent.first_seq, sent.peer.node, sent.tries)
        try:
            records = self.decoder.decode_batch(sent.data)[2]
        except Exception:  # noqa: BLE001 - our own copy is damaged too: nothing left to hand over
            records = []
        for target, sender, kind, payload, _ in records:
            if kind == TELL:
                sender_ref = self.ref_for(tuple(sender)) if sender is not None else None
                self.system.dead_letters.publish(DeadLetter(payload, sender_ref, target, "damaged"))
        self._complete(sent, None)

    def _overdue(self, sent: _Sent, patience: float) -> None:
        """A batch still unacknowledged after ``patience`` s: send it again (the receiver drops duplicates)."""
        if not sent.done and sent.peer.alive and not self.closed:
            self._resend(sent, min(patience * 2, 8.0))

    def _resend(self, sent: _Sent, patience: float = 1.0) -> None:
        peer = sent.peer
        if not peer.alive or self.closed or sent.done:
            return
        try:
            ack = peer.handle.deliver.remote(sent.data, 0.0)
        except Exception as error:  # noqa: BLE001 - still unreachable: try again later
            self._suspect(sent, error)
            return
        again = _Sent(sent.transport, peer, sent.first_seq, ack, sent.data)
        again.tries = sent.tries
        sent.finish()
        again.detach(patience)

    def close(self) -> None:
        """No more Ray calls, and no Ray object ref left behind (call before ``ray.shutdown()``)."""
        self.closed = True
        for sent in list(self.unfinished):
            sent.finish()
            sent.data = None
        for peer in list(self.peers.values()):
            peer.pulled = None

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """``loop.call_later`` from any thread."""
        if _get_ident() == self.loop_thread:
            self.loop.call_later(delay, callback, *args)
        else:
            self.loop.call_soon_threadsafe(self.loop.call_later, delay, callback, *args)

    def _complete(self, sent: _Sent, replies: bytes | None) -> None:
        """A batch was delivered: hand out the replies that came back with it, then acknowledge it (once)."""
        if replies is not None and replies == NACK:  # it arrived damaged: send our intact copy again
            self.call_later(0.0, self._damaged, sent)
            return
        with sent.lock:
            if sent.done:
                return
            sent.finish()
        if replies:  # replies to asks in that batch came back with the call: one Ray round trip per ask
            for record in self.decoder.decode_batch(replies)[2]:
                self._deliver(record)
        peer = sent.peer
        if peer.suspect_since is not None:
            log.warning("rayka: node %s reaches node %s again after %.1f s", self.node_id, peer.node,
                        time.monotonic() - peer.suspect_since)
            peer.suspect_since, peer.failures = None, 0
        self.ack(peer, sent.first_seq)
        if peer.out.sendable:
            self._arm(peer)
