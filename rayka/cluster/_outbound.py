"""Number outgoing messages, batch them and bound the batches in flight (see :mod:`rayka.cluster._stream`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rayka._errors import MailboxFull, TransportError
from rayka.cluster._wire_format import StreamId

__all__ = ["OutboundBatch", "OutboundStatistics", "OutboundStream", "StreamFull"]

Callback = Callable[[], Any]


class StreamFull(MailboxFull):
    """An outbound stream holds as many unsent messages as it may; wait until it is writable."""


@dataclass(frozen=True, slots=True)
class OutboundBatch:
    """A batch handed out for sending.

    Attributes:
        stream_id: The stream it belongs to.
        first_seq: Sequence number of ``items[0]``; the others follow on.
        items: The encoded records, in sequence order.
        nbytes: Total size of the items.
    """

    stream_id: StreamId
    first_seq: int
    items: list[Any]
    nbytes: int

    @property
    def end_seq(self) -> int:
        """Sequence number just past the batch's last item."""
        return self.first_seq + len(self.items)


@dataclass(frozen=True, slots=True)
class OutboundStatistics:
    """Counters of an :class:`OutboundStream`."""

    pushed: int
    pending_messages: int
    pending_bytes: int
    in_flight_batches: int
    in_flight_messages: int
    sent_batches: int
    acked_batches: int
    unknown_acks: int
    closed: bool


def _call_all(callbacks: list[Callback]) -> None:
    """Call every callback, then raise the first error any of them raised."""
    error: BaseException | None = None
    for callback in callbacks:
        try:
            callback()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            if error is None:
                error = exc
    if error is not None:
        raise error


class OutboundStream:
    """Number messages, cut them into batches and bound what is in flight.

    Args:
        stream_id: This stream's name, carried by every batch.
        max_batch_messages: Most items in one batch.
        max_batch_bytes: Most bytes in one batch (a larger item travels alone).
        max_in_flight: Most batches sent and not yet acknowledged.
        max_pending_messages: Most items waiting to be batched before
            :meth:`push` raises :class:`StreamFull`; default
            ``max_batch_messages * max_in_flight``.
        max_pending_bytes: Same, in bytes; default ``max_batch_bytes * max_in_flight``.
        on_sendable: Called each time the stream turns sendable (it was not,
            and :meth:`next_batch` would now return a batch): after a push
            into an idle stream, or an ack that frees a slot. Schedule a flush
            from it; do not send from inside it.

    Example:
        >>> out = OutboundStream(StreamId("n1", 1), max_in_flight=1)
        >>> out.push(b"a"), out.push(b"b")
        (0, 1)
        >>> batch = out.next_batch()
        >>> batch.first_seq, batch.items, out.sendable
        (0, [b'a', b'b'], False)
        >>> out.push(b"c"); out.next_batch() is None
        2
        True
        >>> out.ack(0), out.next_batch().items
        (True, [b'c'])
    """

    def __init__(
        self,
        stream_id: StreamId,
        *,
        max_batch_messages: int = 1000,
        max_batch_bytes: int = 1 << 20,
        max_in_flight: int = 4,
        max_pending_messages: int | None = None,
        max_pending_bytes: int | None = None,
        on_sendable: Callback | None = None,
    ) -> None:
        for name, value in (
            ("max_batch_messages", max_batch_messages),
            ("max_batch_bytes", max_batch_bytes),
            ("max_in_flight", max_in_flight),
            ("max_pending_messages", max_pending_messages),
            ("max_pending_bytes", max_pending_bytes),
        ):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value!r}")
        self.stream_id = stream_id
        self._max_batch_messages = max_batch_messages
        self._max_batch_bytes = max_batch_bytes
        self._max_in_flight = max_in_flight
        self._max_pending_messages = max_pending_messages or max_batch_messages * max_in_flight
        self._max_pending_bytes = max_pending_bytes or max_batch_bytes * max_in_flight
        self._on_sendable = on_sendable
        self._items: list[Any] = []
        self._sizes: list[int] = []
        self._pending_bytes = 0
        self._next_seq = 0
        self._in_flight: dict[int, OutboundBatch] = {}
        self._writable_waiters: list[Callback] = []
        self._sent_batches = 0
        self._acked_batches = 0
        self._unknown_acks = 0
        self._closed = False

    @property
    def writable(self) -> bool:
        """Whether :meth:`push` would accept an item now."""
        return not self._closed and (
            len(self._items) < self._max_pending_messages and self._pending_bytes < self._max_pending_bytes
        )

    @property
    def sendable(self) -> bool:
        """Whether :meth:`next_batch` would return a batch now."""
        return bool(self._items) and len(self._in_flight) < self._max_in_flight and not self._closed

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    @property
    def next_seq(self) -> int:
        """The sequence number the next pushed item gets."""
        return self._next_seq

    def push(self, item: Any, size: int | None = None) -> int:
        """Queue one encoded record and give it the next sequence number.

        Args:
            item: The record (bytes from the wire encoder).
            size: Its size in bytes; default ``len(item)``.

        Returns:
            The item's sequence number.

        Raises:
            StreamFull: The stream is not :attr:`writable`; wait with
                :meth:`call_when_writable`.
            TransportError: The stream is closed.
        """
        if self._closed:
            raise TransportError(f"stream {self.stream_id} is closed")
        items = self._items
        if len(items) >= self._max_pending_messages or self._pending_bytes >= self._max_pending_bytes:
            raise StreamFull(
                f"stream {self.stream_id} holds {len(items)} unsent messages "
                f"({self._pending_bytes} bytes); wait for call_when_writable"
            )
        if size is None:
            size = len(item)
        was_idle = not items
        items.append(item)
        self._sizes.append(size)
        self._pending_bytes += size
        seq = self._next_seq
        self._next_seq = seq + 1
        if was_idle and self._on_sendable is not None and len(self._in_flight) < self._max_in_flight:
            self._on_sendable()
        return seq

    def try_push(self, item: bytes) -> bool:
        """Queue ``item`` like :meth:`push` if the stream is open and has room; False otherwise (nothing queued)."""
        items = self._items
        if self._closed or len(items) >= self._max_pending_messages or self._pending_bytes >= self._max_pending_bytes:
            return False
        size = len(item)
        was_idle = not items
        items.append(item)
        self._sizes.append(size)
        self._pending_bytes += size
        self._next_seq += 1
        if was_idle and self._on_sendable is not None and len(self._in_flight) < self._max_in_flight:
            self._on_sendable()
        return True

    def next_batch(self) -> OutboundBatch | None:
        """Take the next batch to send, or ``None`` when nothing is pending or no slot is free.

        The batch counts as in flight until :meth:`ack` names its ``first_seq``.
        """
        items = self._items
        if not items or len(self._in_flight) >= self._max_in_flight or self._closed:
            return None
        was_writable = self.writable
        count = min(len(items), self._max_batch_messages)
        sizes = self._sizes
        if count == len(items) and self._pending_bytes <= self._max_batch_bytes:
            nbytes = self._pending_bytes
        else:
            nbytes, limit, taken = 0, self._max_batch_bytes, 0
            for size in sizes[:count]:
                if taken and nbytes + size > limit:
                    break
                nbytes += size
                taken += 1
            count = taken
        if count == len(items):
            batch_items, self._items, self._sizes = items, [], []
        else:
            batch_items = items[:count]
            del items[:count], sizes[:count]
        self._pending_bytes -= nbytes
        first_seq = self._next_seq - len(self._items) - count
        batch = OutboundBatch(self.stream_id, first_seq, batch_items, nbytes)
        self._in_flight[first_seq] = batch
        self._sent_batches += 1
        if not was_writable and self._writable_waiters and self.writable:
            waiters, self._writable_waiters = self._writable_waiters, []
            _call_all(waiters)
        return batch

    def ack(self, first_seq: int) -> bool:
        """Record that the receiver took the batch starting at ``first_seq``.

        Returns:
            ``True`` if that batch was in flight; ``False`` for an unknown or
            repeated ack, which is ignored and counted.
        """
        in_flight = self._in_flight
        was_full = len(in_flight) >= self._max_in_flight
        if in_flight.pop(first_seq, None) is None:
            self._unknown_acks += 1
            return False
        self._acked_batches += 1
        if was_full and self._items and not self._closed and self._on_sendable is not None:
            self._on_sendable()
        return True

    def call_when_writable(self, callback: Callback) -> None:
        """Call ``callback()`` once the stream is writable (now, if it already is) or closed.

        Bridge to asyncio with a future::

            fut = loop.create_future()
            out.call_when_writable(lambda: fut.done() or fut.set_result(None))
            await fut
        """
        if self._closed or self.writable:
            callback()
        else:
            self._writable_waiters.append(callback)

    def close(self) -> list[Any]:
        """Close the stream and return every item not yet acknowledged, in sequence order.

        Waiters registered with :meth:`call_when_writable` are called (a push
        then raises :class:`~rayka._errors.TransportError`). Closing twice
        returns an empty list the second time.
        """
        if self._closed:
            return []
        self._closed = True
        left: list[Any] = []
        for first_seq in sorted(self._in_flight):
            left.extend(self._in_flight[first_seq].items)
        left.extend(self._items)
        self._in_flight.clear()
        self._items, self._sizes, self._pending_bytes = [], [], 0
        waiters, self._writable_waiters = self._writable_waiters, []
        _call_all(waiters)
        return left

    def statistics(self) -> OutboundStatistics:
        """Return a snapshot of the stream's counters."""
        return OutboundStatistics(
            pushed=self._next_seq,
            pending_messages=len(self._items),
            pending_bytes=self._pending_bytes,
            in_flight_batches=len(self._in_flight),
            in_flight_messages=sum(len(b.items) for b in self._in_flight.values()),
            sent_batches=self._sent_batches,
            acked_batches=self._acked_batches,
            unknown_acks=self._unknown_acks,
            closed=self._closed,
        )
