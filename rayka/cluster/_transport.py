"""The transport of one node: ordered, batched, bounded streams to every other node.

Each pair of nodes has one :class:`OutboundStream`: records are encoded one by
one at ``tell`` (so a bad message fails there, with ``SerializationError``),
numbered, cut into batches of up to 1,000 and sent in one Ray call each, with
at most ``max_in_flight`` batches unacknowledged. The receiving side orders
batches by sequence number (Ray does not order async-actor calls) and hands
records to local mailboxes. A full stream never makes a sender wait: records
go to a per-peer backlog (tells past ``max_backlog`` become dead letters);
an actor that fills it keeps its turn but gets no new one until it drains,
and ``send`` resolves once there is room (backpressure without blocking).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections import OrderedDict, deque
from typing import Any, Callable

from .._errors import ActorNotFound, ActorStopped, AskTimeout, SerializationError, SystemClosed
from ..actors import ActorRef
from ..actors.spi import (
    Call, CellState, DeadLetter, Op, Proxy, Reply, Traced, traced, wrap, Terminated, cell_of, loop_of,
    pause_current_actor, resume_actor, set_assist,
)
from ..sharding._messages import Deliver
from ._inbound import InboundStreams
from ._kinds import Kind
from ._outbound import OutboundStream
from ._receiving import Receiving
from ._resending import Resending, _Sent
from ._remote import RemoteCell
from ._wire import Decoder, Encoder, StreamId

__all__ = ["Transport"]

log = logging.getLogger("rayka.cluster")
TELL, ASK, STOP, WATCH = Kind.TELL, Kind.ASK, Kind.STOP, Kind.WATCH
SIGNAL = int(Op.SIGNAL)
_get_ident = threading.get_ident
_TERMINATED = int(CellState.TERMINATED)
_DEAD_KEYS = 10_000  # terminated actors remembered, so a lookup right after their end finds nothing


class Peer:
    """Our side of the stream to one other node."""

    __slots__ = ("node", "handle", "out", "lock", "backlog", "armed", "alive", "throttled", "pull_waiter",
                 "ask_seqs", "assisted", "suspect_since", "failures", "pulled", "incarnation")

    def __init__(self, node: str, handle: Any, out: OutboundStream) -> None:
        self.node = node
        self.handle = handle
        self.out = out
        self.lock = threading.Lock()  # the stream, the backlog and the throttled senders (nobody waits on it)
        self.backlog: deque[bytes] = deque()
        self.armed = False
        self.alive = True
        self.throttled: list[Any] = []
        self.pull_waiter: Any = None
        self.ask_seqs: deque[int] = deque()  # sequence numbers of asks not yet sent
        self.assisted: list[_Sent] = []  # batches whose asker may wait on the Ray call itself
        self.suspect_since: float | None = None  # a call to it failed and none has succeeded since
        self.failures = 0
        self.pulled: tuple[int, bytes] | None = None  # the batch the driver last pulled, until it acknowledges it
        self.incarnation: int | None = None  # the incarnation this peer was met as (None: the first one)


class Transport(Receiving, Resending):
    """Delivers records between this node and its peers.

    Args:
        system: this node's embedded actor system (its loop runs the transport).
        node_id: this node's id; ``incarnation`` tells restarts apart.
        batch_size: most records in one batch; ``max_in_flight``: unacknowledged batches per peer.
        large_payload: batches above this many bytes travel through Ray's object store.
        strict: the msgpack-only wire (``RayCluster(wire="msgpack")``): nothing pickled either way.
    """

    def __init__(self, system: Any, node_id: str, incarnation: int, *, batch_size: int = 1000,
                 max_in_flight: int = 4, large_payload: int = 1 << 20, put: Callable[[bytes], Any] | None = None,
                 get: Callable[..., Any] | None = None, max_backlog: int = 100_000, strict: bool = False) -> None:
        self.system = system
        self.node_id = node_id
        self.stream_id = StreamId(node_id, incarnation)
        self.loop, self.loop_thread = loop_of(system)
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.large_payload = large_payload
        self._put = put
        self._get = get
        self.tracing = traced(system)  # asks and tells with a sender carry the trace context
        self.encoder = Encoder(encode_hook=self._encode_ref, strict=strict)
        self.decoder = Decoder(decode_hook=self._decode_ref, strict=strict)
        self.inbound = InboundStreams(self.decoder.decode_batch, on_malformed=self._malformed)
        self._inbound_lock = threading.Lock()
        self.peers: dict[str, Peer] = {}
        self.dead_nodes: set[str] = set()
        self._pending: dict[int, tuple[Reply, str, float | None]] = {}
        self._sweeping = False
        self.closed = False
        self.member: Any = None  # the driver's or the node runtime's backend
        self.dead_keys: OrderedDict[tuple, None] = OrderedDict()
        self.gone_paths: OrderedDict[str, None] = OrderedDict()  # actors that ended here
        self.early: dict[str, list] = {}  # records that wait for a SPAWN (see Receiving._park)
        self.early_grace = 2.0
        self._reply_ids = iter(range(1, 1 << 62))
        self._remote_cells: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._watchers: dict[tuple, set] = {}
        self._watched: dict[tuple, RemoteCell] = {}
        self._local_cache: dict[str, Any] = {}
        self.hosted: dict[str, Any] = {}  # children whose parent lives on another node, by path
        self.remote_children: dict[tuple, Any] = {}  # (node, path) -> RemoteChild of a local parent
        self.respawn: Callable[[Any, BaseException], Any] = _no_respawn
        self.malformed_batches = 0
        self.draining = False  # this node leaves the cluster: its hosted children's ends are not reported
        self.malformed_records = 0  # records whose fields did not fit their kind (rejected, dead-lettered)
        self.unfinished: set[_Sent] = set()  # batches whose Ray call is not done: their refs die at close()
        self.max_backlog = max_backlog  # records per peer waiting for room in its stream, past which tells are dropped
        self.backlog_overflows = 0
        self.inline_wait = 0.005  # seconds a deliver call may wait to carry replies back
        self._inline: dict | None = None
        self._inline_keys: set[tuple] = set()
        self._inline_waiters: list = []
        self._admissions: list[Reply] = []

    # -- peers ---------------------------------------------------------------
    def add_peer(self, node: str, handle: Any) -> None:
        if node == self.node_id or node in self.peers:
            return
        peer = Peer(node, handle, None)  # type: ignore[arg-type]
        in_flight = self.max_in_flight if handle is not None else 1
        peer.out = OutboundStream(self.stream_id, max_batch_messages=self.batch_size, max_in_flight=in_flight,
                                  max_pending_messages=self.batch_size * 8,
                                  on_sendable=functools.partial(self._arm, peer))
        self.peers[node] = peer

    def rejoin(self, node: str, handle: Any, incarnation: int | None = None) -> None:
        """Meet a node again after it restarted (a new incarnation): a fresh stream from sequence 0."""
        if node == self.node_id:  # the announcement of this very node's return: no stream to itself
            return
        old = self.peers.pop(node, None)
        if old is not None and old.alive:
            with old.lock:
                old.alive = False
                old.out.close()
        self.dead_nodes.discard(node)
        self.add_peer(node, handle)
        self.peers[node].incarnation = incarnation

    def _peer(self, node: str) -> Peer | None:
        peer = self.peers.get(node)
        return peer if peer is not None and peer.alive else None

    # -- refs ------------------------------------------------------------------
    def key_of(self, ref: ActorRef) -> tuple:
        return self._key_of_cell(cell_of(ref))

    def _key_of_cell(self, cell: Any) -> tuple:
        return cell.key if isinstance(cell, RemoteCell) else (self.node_id, cell.path, cell.uid)

    def ref_for(self, key: tuple) -> ActorRef:
        node, path, uid = key
        if node == self.node_id:
            cell = self._local(path)
            if cell is not None and cell.uid == uid:
                return cell.ref
        cell = self._remote_cells.get((node, path, uid))
        if cell is None:
            cell = RemoteCell(self, node, path, uid)
            cell.dead = node in self.dead_nodes or node == self.node_id or key in self.dead_keys
            self._remote_cells[(node, path, uid)] = cell
        return cell.ref

    def _encode_ref(self, obj: Any) -> Any:
        """A ref travels as its key (a list); a method call, a traced message or a proxy as a small dict."""
        if isinstance(obj, ActorRef):
            cell = cell_of(obj)
            entity = getattr(cell, "entity", None)  # a sharded entity's ref names (type, id), not a place
            if entity is not None:
                return {"entity": entity[0], "id": entity[1]}
            return list(self._key_of_cell(cell))
        if type(obj) is Call:
            record = {"call": obj.name, "args": obj.args, "kwargs": obj.kwargs}
            if obj.trace is not None:
                record["trace"] = obj.trace
            return record
        if type(obj) is Traced:
            return {"traced": obj.message, "ctx": obj.carrier}
        if type(obj) is Proxy:
            return {"proxy": obj._ref, "timeout": obj._timeout}
        if type(obj) is Deliver:  # every message to a sharded entity on another node: no pickle for it
            return {"deliver": obj.entity_id, "m": obj.message}
        return None

    def _decode_ref(self, substitute: Any) -> Any:
        if type(substitute) is not dict:
            return self.ref_for(tuple(substitute))
        if "deliver" in substitute:
            return Deliver(substitute["deliver"], substitute["m"])
        if "traced" in substitute:
            carrier = substitute["ctx"]
            return Traced(substitute["traced"], carrier if type(carrier) is dict else {})
        if "proxy" in substitute:
            return Proxy(substitute["proxy"], substitute["timeout"])
        if "entity" in substitute:
            from ..sharding._refs import entity_ref

            return entity_ref(substitute["entity"], substitute["id"])
        args = substitute["args"]
        trace = substitute.get("trace")
        return Call(substitute["call"], tuple(args) if args is not None else None, substitute["kwargs"],
                    trace if type(trace) is dict else None)

    def _local(self, path: str) -> Any:
        hosted = self.hosted.get(path)
        if hosted is not None:
            return hosted
        cell = self._local_cache.get(path)
        if cell is None or cell.state == _TERMINATED:
            try:
                cell = cell_of(self.system.lookup(path))
            except ActorNotFound:
                self._local_cache.pop(path, None)
                return None
            self._local_cache[path] = cell
        return cell

    # -- sending ---------------------------------------------------------------
    def send_tell(self, cell: RemoteCell, message: Any, sender: ActorRef | None, room: Reply | None = None) -> None:
        """Send a tell; ``room``, if given, resolves once the stream has room again (``ref.send``)."""
        if self.closed:
            raise SystemClosed(f"actor system {self.system.name!r} is shut down; cannot tell {cell.path}")
        sender_key = list(self.key_of(sender)) if sender is not None else None
        peer = self.peers.get(cell.node)
        if cell.dead or peer is None or not peer.alive:
            self.system.dead_letters.publish(DeadLetter(message, sender, cell.path, "stopped"))
            if room is not None:
                room.set_result(None)
            return
        if self.tracing and (sender is not None or type(message) is Call):  # a cast is traced like an ask
            message = wrap(message)
        self.push(cell.node, self.encoder.encode_record(cell.path, sender_key, TELL, message, None), room,
                  tell=True, peer=peer)

    def send_ask(self, cell: RemoteCell, message: Any, reply: Reply, deadline: float | None = None) -> None:
        if self.closed:
            raise SystemClosed(f"actor system {self.system.name!r} is shut down; cannot ask {cell.path}")
        if self._peer(cell.node) is None:
            reply.set_exception(ActorStopped(f"node {cell.node} of {cell.path} is gone"))
            return
        reply_id = next(self._reply_ids)
        if self.tracing:
            message = wrap(message)
        record = self.encoder.encode_record(cell.path, self.node_id, ASK, message, reply_id)
        self._pending[reply_id] = (reply, cell.node, deadline)
        if deadline is not None and not self._sweeping:
            self._sweeping = True
            self.loop.call_soon_threadsafe(self._arm_sweep)
        self.push(cell.node, record, ask=True, asker=reply)

    def _arm_sweep(self) -> None:
        self.loop.call_later(0.5, self._sweep)

    def _sweep(self) -> None:
        """Fail and forget asks past their deadline (nobody may be waiting on them)."""
        now = time.monotonic()
        expired = [rid for rid, (_, _, deadline) in list(self._pending.items())
                   if deadline is not None and deadline <= now]
        for reply_id in expired:
            entry = self._pending.pop(reply_id, None)
            if entry is not None:
                entry[0].set_exception(AskTimeout(f"no reply from node {entry[1]} in time"))
        if any(deadline is not None for _, _, deadline in list(self._pending.values())):
            self._arm_sweep()
        else:
            self._sweeping = False

    def streams(self) -> dict[str, dict]:
        """Per peer: batches in flight, records waiting, the backlog, whether it is suspect."""
        report = {}
        for node, peer in list(self.peers.items()):
            stats = peer.out.statistics()
            report[node] = {"in_flight": stats.in_flight_batches, "pending": stats.pending_messages,
                            "backlog": len(peer.backlog), "suspect": peer.suspect_since is not None,
                            "alive": peer.alive, "sent": stats.sent_batches, "acked": stats.acked_batches}
        return report

    @property
    def pending_asks(self) -> int:
        return len(self._pending)

    def send_control(self, cell: RemoteCell, what: str) -> None:
        if not cell.dead and self._peer(cell.node) is not None:
            self.send_record(cell.node, (cell.path, self.node_id, STOP, cell.uid, None))
        elif self.closed:
            raise SystemClosed(f"actor system {self.system.name!r} is shut down; cannot stop {cell.path}")

    def send_record(self, node: str, record: tuple) -> None:
        if self._peer(node) is None:
            return
        try:
            data = self.encoder.encode_record(*record)
        except SerializationError as error:
            log.error("rayka: could not send a %s record to %s: %s", record[2], node, error)
            return
        self.push(node, data)

    def push(self, node: str, data: bytes, room: Reply | None = None, ask: bool = False,
             asker: Reply | None = None, tell: bool = False, peer: Peer | None = None) -> None:
        """Queue one encoded record for ``node``; only a ``tell`` may be dropped (past the backlog's bound)."""
        if peer is None:
            peer = self._peer(node)
            if peer is None:
                return
        if not ask:
            with peer.lock:  # the common case: room in the stream
                if not peer.backlog and peer.out.try_push(data):
                    if room is not None:
                        room.set_result(None)
                    return
        else:
            with peer.lock:
                if not peer.backlog and peer.out.writable:
                    peer.ask_seqs.append(peer.out.next_seq)
                    peer.armed = True  # flushed right below: an ask should not wait for a loop turn
                    peer.out.push(data)
                else:
                    ask = False
        on_loop = _get_ident() == self.loop_thread
        if ask:
            self._flush(peer, asker if not on_loop else None)
            return
        # The stream is full: nobody waits here, not the loop, not a user's thread. The record joins the
        # peer's backlog (bounded for tells: past `max_backlog` a tell is a dead letter, reason "peer-backlog";
        # asks, replies and control records always wait); `send` resolves once the backlog drains, and an
        # actor on the loop gets no new turn until then.
        with peer.lock:
            overflow = tell and room is None and len(peer.backlog) >= self.max_backlog
            if not overflow:
                peer.backlog.append(data)
                if room is not None:
                    peer.throttled.append((None, room))
                elif on_loop:
                    self._throttle(peer)
        if overflow:
            self.backlog_overflows += 1
            if self.backlog_overflows == 1 or self.backlog_overflows % 10_000 == 0:
                log.error("rayka: node %s: the backlog to node %s is full (%d records); tells to it go to dead "
                          "letters (peer-backlog): %d so far", self.node_id, node, self.max_backlog,
                          self.backlog_overflows)
            self._dead_letter_records(node, [data], "peer-backlog")

    def _throttle(self, peer: Peer) -> None:
        paused = pause_current_actor(self.system)
        if paused is not None:
            peer.throttled.append(paused)

    def _arm(self, peer: Peer) -> None:
        if peer.armed:
            return
        peer.armed = True
        if _get_ident() == self.loop_thread:
            self.loop.call_soon(self._flush, peer)
        else:
            self.loop.call_soon_threadsafe(self._flush, peer)

    def _flush(self, peer: Peer, asker: Reply | None = None) -> None:
        peer.armed = False
        if self.closed:  # Ray may be shut down already: never touch it again
            return
        if peer.assisted:  # a stream never waits on a thread that may not wait for its reply
            assisted, peer.assisted = peer.assisted, []
            for sent in assisted:
                sent.detach()
        if peer.handle is None:  # the driver pulls its batches
            waiter = peer.pull_waiter
            if waiter is not None:
                loop, future = waiter
                loop.call_soon_threadsafe(lambda: future.done() or future.set_result(None))
            return
        while peer.alive:
            with peer.lock:
                batch = peer.out.next_batch()
                asks = peer.ask_seqs
                has_ask = False
                while batch is not None and asks and asks[0] < batch.end_seq:
                    has_ask = True
                    asks.popleft()
            if batch is None:
                return
            data: Any = self.encoder.join_batch(self.stream_id, batch.first_seq, batch.items)
            try:
                if self._put is not None and len(data) > self.large_payload:
                    data = self._put(data)
                ack = peer.handle.deliver.remote(data, self.inline_wait if has_ask else 0.0)
            except Exception as error:  # noqa: BLE001 - the call could not even be submitted: resend later
                self.loop.call_soon_threadsafe(self._suspect, _Sent(self, peer, batch.first_seq, None, data), error)
                return
            sent = _Sent(self, peer, batch.first_seq, ack, data)
            if has_ask and asker is not None and self._get is not None:
                # a thread that blocks on this ask's reply may wait on the Ray call itself (no thread hops)
                peer.assisted.append(sent)
                set_assist(asker, sent)
                asker = None
            else:
                sent.detach()

    def ack(self, peer: Peer, first_seq: int) -> None:
        release = []
        with peer.lock:
            peer.out.ack(first_seq)
            while peer.backlog and peer.out.writable:
                peer.out.push(peer.backlog.popleft())
            if not peer.backlog:
                release, peer.throttled = peer.throttled, []
        if release:
            self.loop.call_soon_threadsafe(_release, release)

    async def pull(self, node: str, ack: int | None, wait: float) -> tuple[int, bytes] | None:
        """Hand the next batch for ``node`` (the driver) once there is one, after acknowledging ``ack``."""
        import asyncio

        peer = self._peer(node)
        if peer is None:
            return None
        pulled = peer.pulled
        if ack is not None:
            if pulled is not None and pulled[0] == ack:
                peer.pulled = pulled = None
            self.ack(peer, ack)
        if pulled is not None:  # the driver did not get it (its call failed): hand the same batch out again
            return pulled
        with peer.lock:
            batch = peer.out.next_batch()
        if batch is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            peer.pull_waiter = (loop, future)
            with peer.lock:
                batch = peer.out.next_batch()
            if batch is None:
                try:
                    await asyncio.wait_for(future, wait)
                except asyncio.TimeoutError:
                    pass
                with peer.lock:
                    batch = peer.out.next_batch()
            peer.pull_waiter = None
        if batch is None:
            return None
        peer.pulled = (batch.first_seq, self.encoder.join_batch(self.stream_id, batch.first_seq, batch.items))
        return peer.pulled

    # -- receiving -------------------------------------------------------------
    def watch(self, cell: RemoteCell, watcher: Any) -> None:
        if cell.dead or self._peer(cell.node) is None:
            watcher.post_system(SIGNAL, Terminated(cell.ref))
            return
        watchers = self._watchers.setdefault(cell.key, set())
        first = not watchers
        watchers.add(watcher)
        self._watched[cell.key] = cell  # the cache of remote cells is weak
        if first:
            self.send_record(cell.node, (cell.path, self.node_id, WATCH, cell.uid, None))

    def unwatch(self, cell: RemoteCell, watcher: Any) -> None:
        watchers = self._watchers.get(cell.key)
        if watchers:
            watchers.discard(watcher)

    def _dead_letter_records(self, node: str, records: list, reason: str = "node-down") -> None:
        """Tells that never reach ``node`` go to dead letters (``node-down``, ``peer-backlog``), counted."""
        for data in records:
            try:
                target, sender, kind, payload, _ = self.decoder.decode_record(data)
            except Exception:  # noqa: BLE001,S112 - our own encoding: cannot fail; never lose the others
                continue
            if kind == TELL:
                sender_ref = self.ref_for(tuple(sender)) if sender is not None else None
                self.system.dead_letters.publish(DeadLetter(payload, sender_ref, target, reason))

    def ended_here(self, path: str) -> None:
        """An actor hosted on this node ended: records for its path are dead letters at once."""
        self.gone_paths[path] = None
        if len(self.gone_paths) > _DEAD_KEYS:
            self.gone_paths.popitem(last=False)

    def _terminated(self, key: tuple) -> None:
        self.dead_keys[key] = None
        if len(self.dead_keys) > _DEAD_KEYS:
            self.dead_keys.popitem(last=False)
        cell = self._watched.pop(key, None) or self._remote_cells.get(key)
        watchers = self._watchers.pop(key, ())
        if cell is None:
            return
        cell.dead = True
        signal = Terminated(cell.ref)
        for watcher in watchers:
            watcher.post_system(SIGNAL, signal)

    # -- membership ------------------------------------------------------------
    def node_down(self, node: str, cause: BaseException | None = None, incarnation: int | None = None) -> None:
        """Forget a downed node: its asks fail, its watchers get ``Terminated``, its batches are refused.

        ``incarnation`` names the incarnation that membership downed: a later
        one that joined meanwhile is left alone, and batches of that one or
        older are refused from now on (fencing).
        """
        if incarnation is not None:
            with self._inbound_lock:
                self.inbound.fence(node, incarnation)
            peer = self.peers.get(node)
            if peer is not None and peer.incarnation is not None and peer.incarnation > incarnation:
                return  # a newer incarnation is already our peer
        if node in self.dead_nodes:
            return
        self.dead_nodes.add(node)
        log.warning("rayka: node %s sees node %s as gone (%r: %s)", self.node_id, node, cause, str(cause)[:300])
        peer = self.peers.get(node)
        if peer is not None:
            with peer.lock:
                peer.alive = False
                left = [*peer.out.close(), *peer.backlog]
                peer.backlog.clear()
                release, peer.throttled = peer.throttled, []
            self.loop.call_soon_threadsafe(_release, release)
            self._dead_letter_records(node, left)
        for reply_id, (reply, target_node, _) in list(self._pending.items()):
            if target_node == node:
                del self._pending[reply_id]
                reply.set_exception(ActorStopped(f"node {node} died before it replied"))
        for key in [key for key in self._watchers if key[0] == node]:
            self._terminated(key)
        for (child_node, _), child in list(self.remote_children.items()):
            if child_node == node:
                child.node_died(node)
        for key, cell in list(self._remote_cells.items()):
            if key[0] == node:
                cell.dead = True
        with self._inbound_lock:
            self.inbound.forget(node)


def _no_respawn(child: Any, error: BaseException) -> None:
    log.error("rayka: %s cannot be restarted: its node is gone and no node can host it", child.path)
    child.gone(error)


def _release(throttled: list) -> None:
    for cell, future in throttled:
        if cell is None:  # a `send` waiting for room
            future.set_result(None)
            continue
        resume_actor(cell, future)
