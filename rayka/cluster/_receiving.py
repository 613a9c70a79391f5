"""The receiving half of the transport: batches in, records to local mailboxes, replies back.

A batch carrying asks waits a few milliseconds for their replies and returns
them as the Ray call's result (one Ray round trip per fast ask); slower
replies travel back on the reverse stream. Tells and asks meeting a full
``backpressure`` mailbox wait in line, and the batch is acknowledged only
once they got in: that is how backpressure crosses nodes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any

from .._errors import ActorStopped, MailboxFull, RaykaError, SerializationError
from ..actors.spi import CAST, Call, DeadLetter, Op, Reply, reply_outcome
from ._kinds import DIRECTIVE_OPS, Kind
from ._wire import MalformedBatch, UndecodablePayload

__all__ = ["NACK", "Receiving", "RemoteWatcher"]

log = logging.getLogger("rayka.cluster")
TELL, ASK, REPLY_OK, REPLY_ERROR, STOP, WATCH, TERMINATED = (Kind.TELL, Kind.ASK, Kind.REPLY_OK, Kind.REPLY_ERROR,
                                                            Kind.STOP, Kind.WATCH, Kind.TERMINATED)
FAILED, SIGNAL = int(Op.FAILED), int(Op.SIGNAL)
NACK = b"\x00rayka:resend"  # a deliver call's answer for a damaged batch (a reply batch starts with b"RK")


class RemoteWatcher:
    """Stands in, on the watched actor's node, for the watchers on another node."""

    __slots__ = ("transport", "node")

    def __init__(self, transport: Any, node: str) -> None:
        self.transport = transport
        self.node = node

    def post_system(self, op: int, signal: Any) -> None:
        if op == SIGNAL:
            self.transport.send_record(self.node, (None, None, TERMINATED, list(self.transport.key_of(signal.ref)), None))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteWatcher) and other.node == self.node

    def __hash__(self) -> int:
        return hash(("remote-watcher", self.node))


class Receiving:
    """Mixin of :class:`~rayka.cluster._transport.Transport`: what arrives from other nodes."""

    if TYPE_CHECKING:  # what the mixin uses of the Transport
        node_id: str
        system: Any
        loop: Any
        loop_thread: int
        encoder: Any
        stream_id: Any
        inbound: Any
        _inbound_lock: Any
        malformed_batches: int
        malformed_records: int
        _pending: dict
        hosted: dict
        remote_children: dict
        member: Any
        gone_paths: Any
        early: dict
        early_grace: float
        _inline: dict | None
        _inline_keys: set
        _inline_waiters: list
        _admissions: list

        def _local(self, path: str) -> Any: ...
        def ref_for(self, key: tuple) -> Any: ...
        def send_record(self, node: str, record: tuple) -> None: ...
        def _terminated(self, key: tuple) -> None: ...
        def push(self, node: str, data: bytes, room: Any = None, ask: bool = False, asker: Any = None,
                 tell: bool = False) -> None: ...

    async def receive_and_reply(self, data: bytes, wait: float) -> bytes | None:
        """Deliver one batch and, for the asks in it, wait up to ``wait`` s to return their replies inline.

        Replies not ready in time travel back on the stream as usual.
        """
        if not wait:
            try:
                self.receive(data, resend=True)
            except MalformedBatch:
                return NACK
            await self._admitted()
            return None
        collected: dict[tuple, Any] = {}
        self._inline = collected
        try:
            self.receive(data, resend=True)
        except MalformedBatch:
            return NACK
        finally:
            self._inline = None
        entry = None
        if collected:  # registered before any await, so replies that come meanwhile land here
            entry = (collected, asyncio.get_running_loop().create_future())
            self._inline_waiters.append(entry)
        await self._admitted()
        if entry is None:
            return None
        done = entry[1]
        if any(value is None for value in collected.values()) and not done.done():
            timer = asyncio.get_running_loop().call_later(wait, _set_if_pending, done)
            await done
            timer.cancel()
        if entry in self._inline_waiters:
            self._inline_waiters.remove(entry)
        ready = []
        for key in list(collected):
            record = collected.pop(key)
            if record is None:
                self._inline_keys.discard(key)  # it goes on the stream when it comes
            else:
                ready.append(record)
        return self.encoder.join_batch(self.stream_id, 0, ready) if ready else None

    def wait_admitted(self) -> None:
        """Block until queued backpressure tells got in (the driver's pull thread)."""
        while self._admissions:
            pending, self._admissions = self._admissions, []
            for reply in pending:
                reply.exception()

    async def _admitted(self) -> None:
        """Wait until the tells queued for room in backpressure mailboxes got in."""
        while self._admissions:
            pending, self._admissions = self._admissions, []
            for reply in pending:
                try:
                    await reply
                except Exception:  # noqa: BLE001,S110 - the actor stopped meanwhile: dead-lettered there
                    pass

    def receive(self, data: bytes, resend: bool = False) -> int:
        """Deliver one batch; returns how many records it released in order.

        Raises:
            MalformedBatch: with ``resend``, for a damaged batch (counted): its sender sends it again.
        """
        with self._inbound_lock:
            records = self.inbound.receive(data, skip_damaged=not resend)
        local, deliver, ref_for = self._local, self._deliver, self.ref_for
        path = cell = sender = sender_ref = None  # the last target and sender: a batch is mostly one stream's
        for record in records:
            try:
                # the fast path: a well-formed tell to a live actor here
                if (record[2] == TELL and type(record[0]) is str and type(record[3]) is not UndecodablePayload
                        and type(record[3]) is not Call):
                    if record[0] != path:
                        path = record[0]
                        cell = local(path)
                    if cell is not None:
                        if record[1] is None:
                            cell.tell(record[3], None)
                            continue
                        if record[1] != sender and _is_key(record[1]):
                            sender = record[1]
                            sender_ref = ref_for(tuple(sender))
                        if record[1] == sender:
                            cell.tell(record[3], sender_ref)
                            continue
                deliver(record)
            except MailboxFull:
                deliver(record)  # the slow path knows what a full mailbox's policy asks for
            except Exception:  # noqa: BLE001 - one bad record must not stop the node
                log.exception("rayka: could not deliver a record to %r", record[0])
        return len(records)

    def _malformed(self, error: MalformedBatch) -> None:
        self.malformed_batches += 1
        log.error("rayka: node %s rejected a malformed batch: %s", self.node_id, error)

    def _reject(self, record: list, problem: str) -> None:
        """A record whose fields do not fit its kind: counted, logged, dead-lettered; nothing else touched."""
        self.malformed_records += 1
        log.error("rayka: node %s rejected a malformed record (kind %r for %r): %s", self.node_id, record[2],
                  record[0], problem)
        target = record[0] if type(record[0]) is str else repr(record[0])[:200]
        self.system.dead_letters.publish(DeadLetter(record[3], None, target, "malformed"))

    def _deliver(self, record: list, park: bool = True) -> None:
        problem = _problem(record)
        if problem is not None:
            self._reject(record, problem)
            return
        target, sender, kind, payload, reply_id = record
        if type(payload) is UndecodablePayload and kind in (TELL, ASK):
            self._undecodable(record)
            return
        if kind == TELL:
            cell = self._local(target)
            if cell is None and park and self._park(record):
                return
            sender_ref = self.ref_for(tuple(sender)) if sender is not None else None
            if cell is None:
                self.system.dead_letters.publish(DeadLetter(payload, sender_ref, target, "unknown"))
                return
            try:
                if type(payload) is Call and hasattr(cell, "put_envelope"):  # a cast: it gets its reply slot here
                    cell.put_envelope((payload, sender_ref, CAST))
                else:
                    cell.tell(payload, sender_ref)
            except MailboxFull:
                if getattr(cell.mailbox, "overflow", None) == "backpressure":
                    # wait in line for room; the batch is acknowledged only once admitted (backpressure)
                    self._admissions.append(cell.send(payload, sender_ref))
                else:
                    self.system.dead_letters.publish(DeadLetter(payload, sender_ref, target, "overflow"))
        elif kind == ASK:
            if park and self._local(target) is None and self._park(record):
                return
            self._deliver_ask(target, sender, payload, reply_id)
        elif kind == REPLY_OK or kind == REPLY_ERROR:
            entry = self._pending.pop(reply_id, None)
            if entry is not None:
                reply = entry[0]
                if type(payload) is UndecodablePayload:
                    kind, payload = REPLY_ERROR, SerializationError(f"the reply could not be decoded here: {payload}")
                elif kind == REPLY_ERROR and not isinstance(payload, BaseException):
                    payload = RaykaError(f"the target answered with a malformed error: {payload!r:.200}")
                reply.set_result(payload) if kind == REPLY_OK else reply.set_exception(payload)
        elif kind == STOP:
            cell = self._local(target)
            if cell is not None and cell.uid == payload:
                cell.request_stop()
        elif kind == WATCH:
            cell = self._local(target)
            if cell is None or cell.uid != payload:
                self.send_record(sender, (None, None, TERMINATED, [self.node_id, target, payload], None))
            else:
                cell.add_watcher(RemoteWatcher(self, sender))
        elif kind == TERMINATED:
            self._terminated(tuple(payload))
        elif kind == Kind.DIRECTIVE:
            code, uid, error = payload
            cell = self.hosted.get(target)
            op = DIRECTIVE_OPS.get(code)
            if cell is not None and cell.uid == uid and op is not None:
                cell.post_system(op, error)
        elif kind == Kind.CHILD_FAILED or kind == Kind.CHILD_GONE:
            child_path, uid, error = payload
            child = self.remote_children.get((sender, child_path))
            if child is not None and child.uid == uid:
                if kind == Kind.CHILD_FAILED:
                    child.parent_cell.post_system(FAILED, (child, error))
                else:
                    child.gone(error)
        elif kind == Kind.SPAWN:
            self.member.host_spawn(sender, target, payload)
        elif kind == Kind.DEAD_LETTER:
            reason, message = payload
            sender_ref = self.ref_for(tuple(sender)) if sender is not None else None
            self.system.dead_letters.publish(DeadLetter(message, sender_ref, target, reason))

    def _undecodable(self, record: list) -> None:
        """A tell or ask whose message cannot be rebuilt here: the asker gets the error, a tell is dead-lettered."""
        target, sender, kind, payload, reply_id = record
        log.error("rayka: node %s could not decode a message for %s: %s", self.node_id, target, payload)
        if kind == ASK:
            reply: Reply = Reply(None, "remote ask", self.loop_thread)
            reply.add_done_callback(functools.partial(self._send_reply, sender, reply_id))
            reply.set_exception(SerializationError(
                f"the message for {target} could not be decoded on node {self.node_id}: {payload}"))
            return
        sender_ref = self.ref_for(tuple(sender)) if sender is not None else None
        self.system.dead_letters.publish(DeadLetter(payload, sender_ref, target, "undecodable"))

    def _park(self, record: list) -> bool:
        """Hold a record for an actor that may be about to start here; True if held.

        A spawn on this node is a record on the spawning member's stream, and
        a third member that got the new ref may send to it on its own stream,
        which can arrive first. Such records wait (in order) for the ``SPAWN``
        up to ``early_grace`` seconds; records for actors that ended here, or
        for children of a live local parent, never wait.
        """
        target = record[0]
        if target in self.gone_paths:
            return False
        parent = target.rsplit("/", 1)[0]
        if parent != "/user" and self._local(parent) is not None:
            return False
        early = self.early.get(target)
        if early is None:
            early = self.early[target] = []
            self.loop.call_later(self.early_grace, self.release_early, target)
        early.append(record)
        return True

    def release_early(self, target: str) -> None:
        """Deliver what waited for ``target``: it started here, or the grace ran out (then: dead letters)."""
        for record in self.early.pop(target, ()):
            self._deliver(record, park=False)

    def _deliver_ask(self, target: str, origin: str, message: Any, reply_id: int) -> None:
        if self._inline is not None:
            self._inline[(origin, reply_id)] = None
            self._inline_keys.add((origin, reply_id))
        reply: Reply = Reply(None, "remote ask", self.loop_thread)
        reply.add_done_callback(functools.partial(self._send_reply, origin, reply_id))
        cell = self._local(target)
        if cell is None:
            reply.set_exception(ActorStopped(f"no actor at {target} on node {self.node_id}"))
            return
        waiting = cell.put_envelope((message, None, reply))
        if waiting is not None:
            self._admissions.append(waiting)

    def _send_reply(self, origin: str, reply_id: int, reply: Reply) -> None:
        ok, value = reply_outcome(reply)
        kind, payload = (REPLY_OK, value) if ok else (REPLY_ERROR, value)
        try:
            data = self.encoder.encode_record(None, None, kind, payload, reply_id)
        except SerializationError as bad:
            data = self.encoder.encode_record(None, None, REPLY_ERROR, RaykaError(str(bad)), reply_id)
        key = (origin, reply_id)
        if key in self._inline_keys:  # a deliver call is waiting to carry it back
            self._inline_keys.discard(key)
            self._fill_inline(key, data)
            return
        self.push(origin, data)

    def _fill_inline(self, key: tuple, data: bytes) -> None:
        inline = self._inline
        if inline is not None and key in inline:
            inline[key] = data
            return
        for entry in list(self._inline_waiters):
            collected, done = entry
            if key in collected:
                collected[key] = data
                if all(value is not None for value in collected.values()) and not done.done():
                    done.set_result(None)
                return

    # -- watch -----------------------------------------------------------------


def _is_key(value: Any) -> bool:
    """A ref key on the wire: ``[node, path, uid]``."""
    return (type(value) is list and len(value) == 3 and type(value[0]) is str and type(value[1]) is str
            and type(value[2]) is int)


def _is_list(value: Any, n: int) -> bool:
    return type(value) is list and len(value) == n


def _problem(record: list) -> str | None:
    """What is wrong with a record's fields for its kind, or None (checked before anything uses them)."""
    target, sender, kind, payload, reply_id = record
    if type(kind) is not int:
        return "the kind is not an int"
    if kind == TELL:
        ok = type(target) is str and (sender is None or _is_key(sender))
    elif kind == ASK:
        ok = type(target) is str and type(sender) is str and type(reply_id) is int
    elif kind == REPLY_OK or kind == REPLY_ERROR:
        ok = type(reply_id) is int
    elif kind == STOP or kind == WATCH:
        ok = type(target) is str and type(sender) is str and type(payload) is int
    elif kind == TERMINATED:
        ok = _is_key(payload)
    elif kind == Kind.DIRECTIVE:
        ok = type(target) is str and _is_list(payload, 3) and type(payload[0]) is int and type(payload[1]) is int
    elif kind == Kind.CHILD_FAILED or kind == Kind.CHILD_GONE:
        ok = (type(sender) is str and _is_list(payload, 3) and type(payload[0]) is str
              and type(payload[1]) is int)
    elif kind == Kind.SPAWN:
        ok = (type(target) is str and type(sender) is str and _is_list(payload, 5) and type(payload[0]) is bytes
              and (payload[1] is None or type(payload[1]) is str) and type(payload[2]) is int
              and type(payload[3]) is int and type(payload[4]) is str)
    elif kind == Kind.DEAD_LETTER:
        ok = (type(target) is str and (sender is None or _is_key(sender)) and _is_list(payload, 2)
              and type(payload[0]) is str)
    else:
        return f"unknown kind {kind}"
    return None if ok else "its fields do not fit its kind"


def _set_if_pending(future: Any) -> None:
    if not future.done():
        future.set_result(None)
