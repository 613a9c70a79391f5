"""ActorRef: the only way to reach an actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Generic, ParamSpec, overload

from typing_extensions import TypeVar

from ._calls import Call, Proxy, cast, method_name

if TYPE_CHECKING:
    from ._cell import ActorCell
    from ._reply import Reply

__all__ = ["ActorRef", "DEFAULT_ASK_TIMEOUT"]

M = TypeVar("M")
R = TypeVar("R", default=Any)  # what the actor answers an ask with: ``Actor[M, R]``
P = ParamSpec("P")
T = TypeVar("T")
DEFAULT_ASK_TIMEOUT = 5.0  # seconds, as gen_server:call


class ActorRef(Generic[M, R]):
    """A handle to an actor: ``tell``, ``ask``, ``send``, ``stop``, ``path``, ``name``.

    Refs are safe to use from any thread, from asyncio code, from inside
    actors and from Jupyter; they compare equal when they name the same
    actor incarnation and can be put inside messages.

    Example:
        >>> import rayka
        >>> class Greeter(rayka.Actor):
        ...     def receive(self, name):
        ...         return f"hello {name}"
        >>> with rayka.ActorSystem("doc") as system:
        ...     ref = system.spawn(Greeter, name="greeter")
        ...     print(ref.path, ref.ask("ada").result(timeout=1))
        /user/greeter hello ada
    """

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    def tell(self, message: M, sender: ActorRef | None = None) -> None:
        """Send ``message`` without waiting; a dead target's messages go to dead letters."""
        self._cell.tell(message, sender)

    def ask(self, message: M, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> Reply[R]:
        """Send ``message`` and return a :class:`Reply` for the handler's return value.

        Args:
            timeout: seconds until the reply fails with ``AskTimeout``; ``None`` waits forever.

        Raises:
            TypeError: ``timeout`` is not a number of seconds (or ``None``).
        """
        if timeout is not None and (type(timeout) is not float and type(timeout) is not int):
            _check_timeout(self, timeout)
        return self._cell.ask(message, timeout)

    def send(self, message: M, sender: ActorRef | None = None) -> Reply[None]:
        """Send ``message``, waiting for room in a full ``backpressure`` mailbox.

        Returns a :class:`Reply` that resolves once the mailbox accepted the
        message: ``await ref.send(m)`` in async code, ``.result()`` elsewhere.
        """
        return self._cell.send(message, sender)

    def proxy(self, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> Proxy:
        """A :class:`~rayka.Proxy` that calls the actor's public methods: ``ref.proxy().add(1)``.

        Args:
            timeout: each call's deadline in seconds, as for :meth:`ask`; ``None`` waits forever.
        """
        if timeout is not None and (type(timeout) is not float and type(timeout) is not int):
            _check_timeout(self, timeout)
        return Proxy(self, timeout)

    @overload
    def call(self, method: Callable[Concatenate[Any, P], Awaitable[T]],
             *args: P.args, **kwargs: P.kwargs) -> Reply[T]: ...

    @overload
    def call(self, method: Callable[Concatenate[Any, P], T], *args: P.args, **kwargs: P.kwargs) -> Reply[T]: ...

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Reply[Any]:
        """Call ``method`` (a method of the actor's class, e.g. ``Counter.add``) on the actor, typed.

        A type checker checks the arguments against the method and types the
        :class:`Reply` with its return type (an ``async def`` method's too).
        The deadline is :meth:`ask`'s default; for another, use ``ref.proxy(timeout=...)``.

        Example:
            >>> import rayka
            >>> class Counter(rayka.Actor):
            ...     total = 0
            ...     def add(self, n: int) -> int:
            ...         self.total += n
            ...         return self.total
            >>> with rayka.ActorSystem("doc") as system:
            ...     counter = system.spawn(Counter)
            ...     counter.cast(Counter.add, 1)
            ...     counter.call(Counter.add, 2).result(timeout=1)
            3
        """
        return self._cell.ask(Call(method_name(method), args, kwargs or None), DEFAULT_ASK_TIMEOUT)

    def cast(self, method: Callable[Concatenate[Any, P], Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Call ``method`` on the actor without waiting (OTP's ``cast``); typed like :meth:`call`."""
        cast(self, Call(method_name(method), args, kwargs or None))

    def stop(self) -> None:
        """Ask the actor to stop (its children first); returns at once."""
        self._cell.request_stop()

    @property
    def path(self) -> str:
        """The actor's path, like ``/user/parent/child``."""
        return self._cell.path

    @property
    def name(self) -> str:
        """The actor's name among its siblings."""
        return self._cell.name

    def statistics(self) -> Any:
        """The actor's mailbox counters (queued, peak, dropped, processed, ...): a frozen record.

        For an actor on another node they are read there (one round trip),
        which blocks: call it from a thread, not from inside an actor.
        """
        cell: Any = self._cell
        mailbox = getattr(cell, "mailbox", None)
        if mailbox is None:  # an actor on another node: its cell asks there
            return cell.statistics()
        return mailbox.statistics()

    @property
    def is_alive(self) -> bool:
        """False once the actor has terminated."""
        return not self._cell.terminated

    def _key(self) -> tuple:
        return self._cell.key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        return self._cell is other._cell or self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        state = "" if not self._cell.terminated else " terminated"
        return f"<ActorRef {self.path}#{self._cell.uid}{state}>"

    def __reduce__(self) -> tuple:
        return self._cell.reduce_ref()

    def _repr_html_(self) -> str:
        return self._cell.system._html_for(self)


def _check_timeout(ref: ActorRef, timeout: Any) -> None:
    """Accept other real numbers (a numpy float, a Fraction); refuse the rest with a clear error."""
    import numbers

    if isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
        return
    raise TypeError(
        f"ask to {ref.path}: timeout must be a number of seconds (int or float) or None, "
        f"not {type(timeout).__name__} {timeout!r}"
    )
