"""The exceptions rayka raises.

Every error rayka raises on its own account derives from :class:`RaykaError`::

    RaykaError
    ├── ActorStopped            the target is or became dead before it replied
    ├── AskTimeout              no reply in time (also a TimeoutError)
    ├── MailboxFull             a bounded mailbox refused a message
    ├── ActorNotFound           lookup of an unknown name or path (also a LookupError)
    ├── InvalidActorName        a name that is taken or malformed (also a ValueError)
    ├── SystemClosed            the actor system was shut down (you closed it)
    ├── ActorFailed             an actor's failure escalated past its supervisor
    ├── ChildError              a Supervisor's child administration refused (OTP's errors)
    ├── RestartLimitExceeded    a Supervisor's children restarted too often: it gave up
    ├── SerializationError      a message that cannot travel to another node
    ├── ClassNotImportable      an actor class the node runtimes cannot import
    ├── RemoteError             another node's error whose class is not imported here
    ├── TransportError          a node or the link to it broke under you
    └── JournalError            a journal file that is corrupt, locked or unusable

Errors caused by something underneath (Ray, SQLite, pickling) keep that
cause in ``__cause__``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActorFailed",
    "ActorNotFound",
    "ActorStopped",
    "AskTimeout",
    "ChildError",
    "ClassNotImportable",
    "InvalidActorName",
    "JournalError",
    "MailboxFull",
    "RaykaError",
    "RemoteError",
    "RestartLimitExceeded",
    "SerializationError",
    "SystemClosed",
    "TransportError",
]


class RaykaError(Exception):
    """Root of every error that rayka raises on its own account."""


class ActorStopped(RaykaError):
    """The target actor is stopped, or stopped before it replied."""


class AskTimeout(RaykaError, TimeoutError):
    """An ask got no reply within its timeout."""


class MailboxFull(RaykaError):
    """A bounded mailbox refused a message (policy ``fail``, or a full ``backpressure`` mailbox on ``tell``)."""


class ActorNotFound(RaykaError, LookupError):
    """No actor lives at the name or path that was looked up."""


class InvalidActorName(RaykaError, ValueError):
    """An actor name that is already taken among its siblings, or malformed."""


class SystemClosed(RaykaError):
    """The actor system was shut down; nothing can be spawned or sent through it."""


class ActorFailed(RaykaError):
    """An actor's failure was escalated past the root of its supervision tree."""


class ChildError(RaykaError):
    """A :class:`~rayka.Supervisor` refused a child administration request, for an OTP reason.

    Attributes:
        reason: ``"already_started"``, ``"already_present"``, ``"running"``,
            ``"restarting"`` or ``"not_found"``.
        name: the child's name.
        ref: the running child, for ``"already_started"``.
    """

    def __init__(self, message: str, reason: str, name: str, ref: object = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.name = name
        self.ref = ref


class RestartLimitExceeded(RaykaError):
    """A :class:`~rayka.Supervisor`'s children needed more restarts than its intensity allows in its period.

    The supervisor stopped its children (in reverse start order) and failed
    with this error, so its own supervisor decides (OTP's escalation). The
    failure that went over the limit is the ``__cause__``.
    """


class SerializationError(RaykaError):
    """A message could not be serialized to travel to another node."""


class RemoteError(RaykaError):
    """An error raised on another node whose class cannot be rebuilt here (the msgpack-only wire).

    Attributes:
        type_name: The error's class, as ``"module:qualname"``.
        message: ``str()`` of the original error.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name.rpartition(':')[2]}: {message} (raised on another node as {type_name}; "
                         "that class is not imported here)")
        self.type_name = type_name
        self.message = message

    def __reduce__(self) -> Any:
        return (RemoteError, (self.type_name, self.message))


class ClassNotImportable(RaykaError):
    """The node runtimes cannot import an actor's class (its module is not on their path).

    Fix it with ``RayCluster(pickle_by_value=[module])`` (the class travels by
    value) or Ray's ``runtime_env={"working_dir": ...}`` (the module travels as a file).
    """


class TransportError(RaykaError):
    """The link to another node broke, or a node runtime died."""


class JournalError(RaykaError):
    """A journal file is corrupt, locked by another process, or unusable."""
