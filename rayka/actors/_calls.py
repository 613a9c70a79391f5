"""Method calls: ``ref.proxy().add(1)``, ``ref.call(Counter.add, 1)``, ``ref.cast(Counter.add, 1)``.

A call is a small record, ``Call(name, args, kwargs)`` (``args is None``: read
the attribute ``name``), that travels like any message: through the mailbox,
in order with the actor's other messages, and across nodes as a record, not a
pickled closure. The actor's message loop hands a ``Call`` to :func:`dispatch`
instead of ``receive``. A call the actor cannot take (a missing, private or
reserved name, wrong arguments) is *refused*: the ask fails with a clear error
and the actor goes on; an error raised inside the method is a failure like any
other, for the supervisor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generator

if TYPE_CHECKING:
    from ._ref import ActorRef
    from ._reply import Reply

__all__ = ["CAST", "Call", "Member", "Proxy", "Refusal", "cast", "dispatch", "method_name", "public_methods"]

#: names of ``Actor`` itself that a proxy may not call or read (hooks, settings, the context)
RESERVED = frozenset({
    "receive", "context", "on_start", "on_stop", "on_pre_restart", "on_restart", "supervisor_strategy",
    "mailbox", "throughput", "blocking", "max_concurrency", "stash_capacity", "shutdown_timeout",
})


class Call:
    """A method call (or, with ``args=None``, an attribute read) sent to an actor.

    ``trace``: the sender's trace context when the system traces (a call is
    never wrapped, so it carries the context itself).
    """

    __slots__ = ("name", "args", "kwargs", "trace")

    def __init__(self, name: str, args: tuple | None, kwargs: dict | None = None,
                 trace: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs
        self.trace = trace

    def __reduce__(self) -> tuple:
        return (Call, (self.name, self.args, self.kwargs, self.trace))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Call) and self.name == other.name and self.args == other.args
                and self.kwargs == other.kwargs)

    def __repr__(self) -> str:
        if self.args is None:
            return f"Call({self.name!r}: read)"
        return f"Call({self.name}(*{self.args!r}, **{self.kwargs or {}!r}))"


class _Cast:
    """The reply slot of a call nobody waits for (``cast``, ``proxy.name.tell``): answers go nowhere.

    Every call travels with something in its reply slot, so the message loop
    looks for a ``Call`` only in envelopes that have one (an ask's, a cast's):
    a plain tell pays nothing for method calls.
    """

    __slots__ = ()

    def set_result(self, result: Any) -> bool:
        return False

    def set_exception(self, error: BaseException) -> bool:
        return False

    def __repr__(self) -> str:
        return "CAST"


CAST: Any = _Cast()


class Refusal(Exception):
    """Raised inside the message loop for a message the actor cannot take: ``error`` answers it.

    The actor does not fail: an ask fails with ``error``, a tell goes to dead
    letters (reason ``"refused"``) and is logged.
    """

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def dispatch(instance: Any, call: Call, path: str) -> Any:
    """Run ``call`` on the actor ``instance``: the method's result (maybe a coroutine) or the attribute's value."""
    name = call.name
    cls = type(instance).__name__
    if type(name) is not str or name[:1] == "_" or name in RESERVED:
        raise Refusal(AttributeError(
            f"{cls} actor {path}: {name!r} cannot be called or read through a proxy: private names "
            "(a leading '_') and the Actor's own hooks and settings are not reachable; call a public method"))
    try:
        target = getattr(instance, name)
    except AttributeError:
        raise Refusal(AttributeError(f"{cls} actor {path} has no attribute {name!r}; "
                                     f"its public methods: {', '.join(public_methods(type(instance))) or 'none'}"))
    args = call.args
    if args is None:
        if callable(target) and hasattr(target, "__self__"):
            raise Refusal(TypeError(f"{cls} actor {path}: {name!r} is a method: call it, `proxy.{name}(...)`"))
        return target
    if not callable(target):
        raise Refusal(TypeError(f"{cls} actor {path}: {name!r} is a {type(target).__name__}, not a method: "
                                f"read it with `proxy.{name}.result()` or `await proxy.{name}`"))
    if call.trace is not None:  # a traced system's call: the method runs inside a span
        from ._tracing import in_span

        return in_span(f"{cls} call {name}", call.trace, path, cls, _invoke, target, call, cls, path)
    return _invoke(target, call, cls, path)


def _invoke(target: Any, call: Call, cls: str, path: str) -> Any:
    """Call the method; arguments that do not bind are the caller's mistake, so the call is refused."""
    try:
        return target(*(call.args or ()), **(call.kwargs or {}))
    except TypeError as error:
        if error.__traceback__ is not None and error.__traceback__.tb_next is None:  # raised by the call itself
            raise Refusal(TypeError(f"{cls} actor {path}: {call.name}(): {error}")) from None
        raise


def public_methods(cls: type) -> list[str]:
    """The methods of ``cls`` a proxy can call (public, not the Actor's own)."""
    return sorted(name for name in dir(cls)
                  if name[:1] != "_" and name not in RESERVED and callable(getattr(cls, name, None)))


def method_name(method: Any) -> str:
    """The name to call for ``Counter.add`` (a function defined in the actor's class)."""
    name = getattr(method, "__name__", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"call() needs a method of the actor's class, such as `Counter.add`, got {method!r}")
    return name


class Proxy:
    """Calls an actor's methods: ``proxy.add(1)`` is a :class:`Reply`, ``proxy.add.tell(1)`` fire-and-forget.

    ``proxy.count.result()`` (or ``await proxy.count``) reads an attribute.
    Get one with ``ref.proxy()``. Untyped: every attribute is a call; for
    checked argument and return types use ``ref.call(Counter.add, 1)``.

    Example:
        >>> import rayka
        >>> class Counter(rayka.Actor):
        ...     def __init__(self):
        ...         self.count = 0
        ...     def add(self, n):
        ...         self.count += n
        ...         return self.count
        >>> with rayka.ActorSystem("doc") as system:
        ...     counter = system.spawn(Counter).proxy()
        ...     counter.add.tell(2)
        ...     print(counter.add(3).result(timeout=1), counter.count.result(timeout=1))
        5 5
    """

    __slots__ = ("_ref", "_timeout")

    def __init__(self, ref: ActorRef, timeout: float | None) -> None:
        self._ref = ref
        self._timeout = timeout

    def __getattr__(self, name: str) -> Member:
        if name[:1] == "_":
            raise AttributeError(f"{name!r}: a proxy reaches public names only")
        return Member(self._ref, name, self._timeout)

    def __reduce__(self) -> tuple:
        return (Proxy, (self._ref, self._timeout))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Proxy) and self._ref == other._ref

    def __hash__(self) -> int:
        return hash(self._ref)

    def __repr__(self) -> str:
        return f"<Proxy of {self._ref.path}>"


def cast(ref: ActorRef, call: Call) -> None:
    """Send ``call`` with no one waiting: a local actor gets it with the ``CAST`` reply slot; a remote one as
    a tell, which its node's transport gives that slot when it delivers it."""
    cell: Any = ref._cell
    if hasattr(cell, "put_envelope"):
        cell.put_envelope((call, None, CAST))
    else:
        cell.tell(call, None)


class Member:
    """One name on a proxy: call it, ``tell`` it, or read it (``result()`` / ``await``)."""

    __slots__ = ("_ref", "_name", "_timeout")

    def __init__(self, ref: ActorRef, name: str, timeout: float | None) -> None:
        self._ref = ref
        self._name = name
        self._timeout = timeout

    def __call__(self, *args: Any, **kwargs: Any) -> Reply[Any]:
        return self._ref.ask(Call(self._name, args, kwargs or None), timeout=self._timeout)

    def tell(self, *args: Any, **kwargs: Any) -> None:
        """Call the method without waiting for its result (its errors go to the supervisor, as a tell's do)."""
        cast(self._ref, Call(self._name, args, kwargs or None))

    def read(self) -> Reply[Any]:
        """Read the attribute: a :class:`Reply` of its value (to gather, wait on or ``future()``)."""
        return self._ref.ask(Call(self._name, None), timeout=self._timeout)

    def result(self, timeout: float | None = None) -> Any:
        """Read the attribute and wait for its value (blocks; from a thread or a notebook)."""
        return self.read().result(timeout)

    def __await__(self) -> Generator[Any, None, Any]:
        return self.read().__await__()

    def __repr__(self) -> str:
        return f"<{self._ref.path}.{self._name} through a proxy>"
