"""Put incoming batches back in sequence order, per sending node (see :mod:`rayka.cluster._stream`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rayka._errors import TransportError
from rayka.cluster._wire_format import MalformedBatch, StreamId

__all__ = ["InboundStatistics", "InboundStream", "InboundStreams"]

Decode = Callable[[bytes], tuple[StreamId, int, Sequence[Any]]]
"""Turns a batch's bytes into ``(stream_id, first_seq, records)``."""


@dataclass(frozen=True, slots=True)
class InboundStatistics:
    """Counters of an :class:`InboundStream`, or summed over :class:`InboundStreams`."""

    delivered_messages: int
    delivered_batches: int
    buffered_batches: int
    buffered_messages: int
    duplicate_batches: int
    duplicate_messages: int
    skipped_messages: int
    malformed_batches: int = 0
    stale_batches: int = 0
    resets: int = 0


class InboundStream:
    """Put the batches of one sending stream back in sequence order.

    Args:
        stream_id: The sending stream.
        max_buffered_batches: Most batches held while waiting for a gap to
            fill; past it the stream is broken and :meth:`accept` raises
            :class:`~rayka._errors.TransportError`. The sender's
            ``max_in_flight`` keeps well below it.

    Example:
        >>> inbound = InboundStream(StreamId("n1", 1))
        >>> inbound.accept(2, ["c"])
        []
        >>> inbound.accept(0, ["a", "b"])
        ['a', 'b', 'c']
        >>> inbound.accept(0, ["a", "b"]), inbound.statistics().duplicate_batches
        ([], 1)
    """

    def __init__(self, stream_id: StreamId, *, max_buffered_batches: int = 64) -> None:
        self.stream_id = stream_id
        self._max_buffered = max_buffered_batches
        self._next_seq = 0
        # first_seq -> (count, records); records is None for a skipped range.
        self._buffer: dict[int, tuple[int, Sequence[Any] | None]] = {}
        self._buffered_messages = 0
        self._delivered_messages = 0
        self._delivered_batches = 0
        self._duplicate_batches = 0
        self._duplicate_messages = 0
        self._skipped_messages = 0

    @property
    def next_seq(self) -> int:
        """The sequence number of the next record to deliver."""
        return self._next_seq

    def accept(self, first_seq: int, records: Sequence[Any]) -> Sequence[Any]:
        """Take one batch; return the records now deliverable, in sequence order.

        The batch's records are delivered at once when it is the next in
        sequence (together with buffered batches it unblocks), held when it
        arrived ahead of a gap, and dropped (counted) when already delivered.

        Raises:
            TransportError: More than ``max_buffered_batches`` batches wait on a gap.
        """
        return self._take(first_seq, len(records), records)

    def skip(self, first_seq: int, count: int) -> Sequence[Any]:
        """Account for a batch that arrived but cannot be delivered (malformed).

        The range counts as received, so later batches are not held up.
        Returns the records of later batches that this unblocks.
        """
        return self._take(first_seq, count, None)

    def _take(self, first_seq: int, count: int, records: Sequence[Any] | None) -> Sequence[Any]:
        if count <= 0:  # an empty batch holds no sequence number: never buffer it in a real batch's place
            return []
        next_seq = self._next_seq
        if first_seq == next_seq and not self._buffer:
            self._next_seq = next_seq + count
            return self._count_delivered(count, records)
        end = first_seq + count
        if end <= next_seq:
            self._duplicate_batches += 1
            self._duplicate_messages += count
            return []
        if first_seq > next_seq:
            if first_seq in self._buffer:
                self._duplicate_batches += 1
                self._duplicate_messages += count
                return []
            if len(self._buffer) >= self._max_buffered:
                raise TransportError(
                    f"stream {self.stream_id} is broken: {len(self._buffer)} batches wait for "
                    f"sequence number {next_seq}, which never came"
                )
            self._buffer[first_seq] = (count, records)
            self._buffered_messages += count
            return []
        out: list[Any] = []
        self._deliver_from(first_seq, count, records, out)
        self._drain(out)
        return out

    def _count_delivered(self, count: int, records: Sequence[Any] | None) -> Sequence[Any]:
        if records is None:
            self._skipped_messages += count
            return []
        self._delivered_messages += count
        self._delivered_batches += 1
        return records

    def _deliver_from(self, first_seq: int, count: int, records: Sequence[Any] | None, out: list[Any]) -> None:
        """Deliver the part of a batch at or past ``next_seq`` (which it must reach)."""
        overlap = self._next_seq - first_seq
        if overlap:
            self._duplicate_messages += overlap
            if records is not None:
                records = records[overlap:]
        self._next_seq = first_seq + count
        out.extend(self._count_delivered(count - overlap, records))

    def _drain(self, out: list[Any]) -> None:
        buffer = self._buffer
        while buffer:
            entry = buffer.pop(self._next_seq, None)
            if entry is not None:
                self._buffered_messages -= entry[0]
                self._deliver_from(self._next_seq, entry[0], entry[1], out)
                continue
            # Batches that overlap what was delivered (only with uneven batch
            # boundaries, which a well-behaved sender never produces).
            behind = [seq for seq in buffer if seq < self._next_seq]
            if not behind:
                return
            for seq in sorted(behind):
                count, records = buffer.pop(seq)
                self._buffered_messages -= count
                if seq + count <= self._next_seq:
                    self._duplicate_batches += 1
                    self._duplicate_messages += count
                else:
                    self._deliver_from(seq, count, records, out)

    def statistics(self) -> InboundStatistics:
        """Return a snapshot of the stream's counters."""
        return InboundStatistics(
            delivered_messages=self._delivered_messages,
            delivered_batches=self._delivered_batches,
            buffered_batches=len(self._buffer),
            buffered_messages=self._buffered_messages,
            duplicate_batches=self._duplicate_batches,
            duplicate_messages=self._duplicate_messages,
            skipped_messages=self._skipped_messages,
        )


class InboundStreams:
    """Every inbound stream of one node: decode, pick the stream by sender, order.

    Args:
        decode: Turns a batch's bytes into ``(stream_id, first_seq, records)``,
            for example :meth:`rayka.cluster._wire.Decoder.decode_batch`.
        on_malformed: Called with each :class:`~rayka.cluster._wire.MalformedBatch`
            that :meth:`receive` met (log it, tell the sender); by default
            nothing beyond the count.
        max_buffered_batches: Passed to each :class:`InboundStream`.

    Example:
        >>> from rayka.cluster._wire import decode_batch, encode_batch
        >>> inbound = InboundStreams(decode_batch)
        >>> inbound.receive(encode_batch(StreamId("n1", 1), 0, [("/user/a", None, 0, "hi", None)]))
        [['/user/a', None, 0, 'hi', None]]
        >>> inbound.receive(b"junk"), inbound.statistics().malformed_batches
        ([], 1)
    """

    def __init__(
        self,
        decode: Decode | None = None,
        *,
        on_malformed: Callable[[MalformedBatch], Any] | None = None,
        max_buffered_batches: int = 64,
    ) -> None:
        self._decode = decode
        self._on_malformed = on_malformed
        self._max_buffered = max_buffered_batches
        self._streams: dict[str, InboundStream] = {}
        self._fenced: dict[str, int] = {}  # node -> highest incarnation downed: its batches are refused
        self._malformed = 0
        self._stale = 0
        self._resets = 0
        self._retired = dict.fromkeys(_INBOUND_FIELDS, 0)

    def receive(self, data: bytes, *, skip_damaged: bool = True) -> Sequence[Any]:
        """Decode one batch and return the records now deliverable, in sequence order.

        A malformed batch is counted and handed to ``on_malformed``; when its
        header could be read, its range is skipped so the stream goes on, and
        the records that this unblocks are returned. With
        ``skip_damaged=False`` the :class:`MalformedBatch` is raised instead
        (after counting): the caller asks the sender for its intact copy.

        Raises:
            TransportError: The sender's stream is broken (see :meth:`InboundStream.accept`).
        """
        if self._decode is None:
            raise TypeError("InboundStreams was built without a decode function; call accept()")
        try:
            stream_id, first_seq, records = self._decode(data)
        except MalformedBatch as exc:
            self._malformed += 1
            if not skip_damaged:
                if self._on_malformed is not None:
                    self._on_malformed(exc)
                raise
            released: Sequence[Any] = []
            if exc.stream_id is not None and exc.first_seq is not None and exc.count is not None:
                stream = self._stream(exc.stream_id)
                if stream is not None:
                    released = stream.skip(exc.first_seq, exc.count)
            if self._on_malformed is not None:
                self._on_malformed(exc)
            return released
        return self.accept(stream_id, first_seq, records)

    def accept(self, stream_id: StreamId, first_seq: int, records: Sequence[Any]) -> Sequence[Any]:
        """Order one decoded batch; see :meth:`InboundStream.accept`. Stale incarnations give ``[]``."""
        stream = self._stream(stream_id)
        if stream is None:
            return []
        return stream.accept(first_seq, records)

    def fence(self, node: str, incarnation: int) -> None:
        """Refuse every batch from ``node`` at ``incarnation`` or older (it was downed): counted as stale."""
        if incarnation > self._fenced.get(node, -1):
            self._fenced[node] = incarnation
        stream = self._streams.get(node)
        if stream is not None and stream.stream_id.incarnation <= incarnation:
            self.forget(node)

    def _stream(self, stream_id: StreamId) -> InboundStream | None:
        node, incarnation = stream_id
        if incarnation <= self._fenced.get(node, -1):
            self._stale += 1
            return None
        stream = self._streams.get(node)
        if stream is not None:
            current = stream.stream_id.incarnation
            if incarnation == current:
                return stream
            if incarnation < current:
                self._stale += 1
                return None
            self._resets += 1
            self._retire(stream)
        stream = InboundStream(StreamId(node, incarnation), max_buffered_batches=self._max_buffered)
        self._streams[node] = stream
        return stream

    def _retire(self, stream: InboundStream) -> None:
        """Fold a replaced stream's counters in; what it still buffered counts as skipped."""
        stats = stream.statistics()
        for field in _INBOUND_FIELDS:
            self._retired[field] += getattr(stats, field)
        self._retired["skipped_messages"] += stats.buffered_messages
        self._retired["buffered_messages"] -= stats.buffered_messages
        self._retired["buffered_batches"] -= stats.buffered_batches

    def forget(self, node: str) -> None:
        """Drop the stream from ``node`` (the node left); what it buffered counts as skipped."""
        stream = self._streams.pop(node, None)
        if stream is not None:
            self._retire(stream)

    def stream(self, node: str) -> InboundStream | None:
        """Return the current stream from ``node``, if any."""
        return self._streams.get(node)

    def statistics(self) -> InboundStatistics:
        """Return counters summed over every stream, past and present."""
        total = dict(self._retired)
        for stream in self._streams.values():
            stats = stream.statistics()
            for field in _INBOUND_FIELDS:
                total[field] += getattr(stats, field)
        return InboundStatistics(
            **total, malformed_batches=self._malformed, stale_batches=self._stale, resets=self._resets
        )


_INBOUND_FIELDS = (
    "delivered_messages",
    "delivered_batches",
    "buffered_batches",
    "buffered_messages",
    "duplicate_batches",
    "duplicate_messages",
    "skipped_messages",
)
