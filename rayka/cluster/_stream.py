"""Ordered, flow-controlled streams of messages between two nodes.

Pure bookkeeping: no Ray, no asyncio, no threads. The transport owns one
:class:`OutboundStream` per peer node and one :class:`InboundStreams` per
node, and drives them from its event loop (they are not thread-safe).

Sending side::

    seq = out.push(encoded_record)          # StreamFull when the producer must wait
    ... at the end of the loop turn, so that messages told together travel together:
    while (batch := out.next_batch()) is not None:
        ref = peer.deliver.remote(encoder.join_batch(batch.stream_id, batch.first_seq, batch.items))
        # when ref resolves: out.ack(batch.first_seq); when it raises: out.close()

Receiving side::

    for record in inbound.receive(data):    # decodes, orders, drops duplicates
        deliver(record)

An acknowledgement means "the receiver took the batch", not "the actors
handled it": the sender acks a batch when the Ray call that carried it
returns. At most ``max_in_flight`` batches are unacknowledged, so a receiver
buffers at most ``max_in_flight - 1`` batches that arrived ahead of a gap.
Delivery is at most once: a batch that is lost (the call raised) breaks the
stream; close it and dead-letter what :meth:`OutboundStream.close` returns.

A stream is named by ``StreamId(node, incarnation)``. A batch from a higher
incarnation of a node replaces that node's inbound stream (sequence numbers
start again at 0); a batch from a lower one is stale and dropped. A sender
must therefore open its stream with a new, higher incarnation whenever the
sequence restarts: after its own restart, and also when the receiver was
restarted and lost its inbound state.
"""

from __future__ import annotations

from rayka.cluster._inbound import InboundStatistics, InboundStream, InboundStreams
from rayka.cluster._outbound import OutboundBatch, OutboundStatistics, OutboundStream, StreamFull
from rayka.cluster._wire_format import StreamId

__all__ = [
    "InboundStatistics",
    "InboundStream",
    "InboundStreams",
    "OutboundBatch",
    "OutboundStatistics",
    "OutboundStream",
    "StreamFull",
    "StreamId",
]
