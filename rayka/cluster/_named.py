"""Types, functions and actor classes that travel by name (the msgpack-only wire).

With ``RayCluster(wire="msgpack")`` nothing on rayka's wire is a pickle. A
message is plain msgpack data, rayka refs, or an instance of a type
registered here; a class or function travels as its name. The receiving node
looks the name up among what is registered, importing the name's module once
when it is not (a module's ``@register`` lines run at import), and refuses
anything else: no name ever makes it call something that was not declared.
Actor classes and exception classes need no registration: a name that
resolves to an :class:`~rayka.Actor` subclass or an exception class is
accepted (a spawn on another node names its class this way, a supervisor's
decider its exception types). Classes defined in ``__main__`` or inside a
function have no name the nodes can resolve: they are refused when sent.

Example:
    >>> from dataclasses import dataclass
    >>> @register
    ... @dataclass(frozen=True)
    ... class Added:
    ...     item: str
    >>> name_of(Added) == f"{__name__}:Added"
    True
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import pkgutil
import sys
import threading
from typing import Any, Callable, TypeVar

from .._errors import SerializationError

__all__ = ["NotByName", "error_from_wire", "from_wire", "name_of", "register", "resolve", "wire_form"]

T = TypeVar("T")

_by_name: dict[str, Any] = {}
_by_object: dict[Any, str] = {}
_fields: dict[type, tuple[str, ...]] = {}
_lock = threading.Lock()
_own_registered = False
_own_lock = threading.Lock()


def register(obj: T | None = None, *, name: str | None = None) -> Any:
    """Let a type (a dataclass, a named tuple, an enum) or a function travel by name on the msgpack wire.

    Use it as a decorator, bare or with ``name=``. The default name is
    ``"module:qualname"``; a name of your own (``"cart.Added"``) keeps
    messages readable across a rename, but then every node must import the
    module that registers it before the first such message arrives (with the
    default name the node imports the module itself). A dataclass travels as
    its name and the values of its ``__init__`` fields, and is rebuilt by
    calling it with them; an enum as its name and value.

    Raises:
        TypeError: ``obj`` is not a dataclass, an enum or a function, or the
            name is taken by another object.
    """
    if obj is None:
        return lambda target: register(target, name=name)
    if not (_is_record_type(obj) or (isinstance(obj, type) and issubclass(obj, enum.Enum)) or callable(obj)):
        raise TypeError(f"rayka.cluster.register takes a dataclass, a named tuple, an enum or a function, "
                        f"not {obj!r}")
    key = name if name is not None else _default_name(obj)
    with _lock:
        held = _by_name.get(key)
        if held is not None and held is not obj and _default_name(held) != _default_name(obj):
            raise TypeError(f"the wire name {key!r} is already registered for {held!r}; pass another name=")
        _by_name[key] = obj
        _by_object[obj] = key
        record: Any = obj
        if _is_dataclass_type(record):
            _fields[record] = tuple(f.name for f in dataclasses.fields(record) if f.init)
        elif _is_named_tuple(record):
            _fields[record] = tuple(record._fields)
    return obj


def name_of(obj: Any) -> str | None:
    """The wire name of a registered object or of an actor class, else ``None``."""
    if not _own_registered:
        _register_own()
    try:
        name = _by_object.get(obj)
    except TypeError:  # unhashable
        return None
    if name is None and isinstance(obj, type) and _by_name_alone(obj):
        qualname, module = obj.__qualname__, obj.__module__
        return None if "<locals>" in qualname or module == "__main__" else _default_name(obj)
    return name


def resolve(name: str) -> Any:
    """The registered object (or actor class) called ``name``; import its module once if needed.

    Raises:
        SerializationError: nothing registered has that name here.
    """
    if not _own_registered:
        _register_own()
    found = _by_name.get(name)
    if found is not None:
        return found
    module, _, qualname = name.partition(":")
    if not qualname:
        raise SerializationError(f"the wire name {name!r} is not registered on this node: import the module "
                                 "that registers it in every node runtime (or use the default module:qualname name)")
    try:
        imported = importlib.import_module(module)
    except Exception as error:
        raise SerializationError(f"{name} arrived by name, but module {module!r} cannot be imported on this "
                                 f"node ({type(error).__name__}: {error}); ship the code to every node "
                                 "(an installed package, or Ray's runtime_env working_dir)") from error
    found = _by_name.get(name)
    if found is not None:
        return found
    target = _attribute(imported, qualname)
    if isinstance(target, type) and _by_name_alone(target):
        return target
    raise SerializationError(f"{name} arrived by name but is not registered: decorate it with "
                             "@rayka.cluster.register in its module (the msgpack wire builds only declared types)")


def _attribute(root: Any, qualname: str) -> Any:
    """``root.a.b`` for ``qualname`` ``"a.b"``, or ``None`` where a part is missing."""
    for part in qualname.split("."):
        root = getattr(root, part, None)
    return root


def _default_name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


def _is_dataclass_type(obj: Any) -> bool:
    return isinstance(obj, type) and dataclasses.is_dataclass(obj)


def _is_named_tuple(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def _is_record_type(obj: Any) -> bool:
    return _is_dataclass_type(obj) or _is_named_tuple(obj)


def _by_name_alone(cls: type) -> bool:
    """Classes that travel by name unregistered: actor classes (spawns) and exception classes (deciders)."""
    from ..actors import Actor

    return issubclass(cls, (Actor, BaseException))


def _register_own() -> None:
    """Register rayka's own types that cross nodes: restart types, mailbox specs, pattern messages."""
    global _own_registered
    with _own_lock:
        if not _own_registered:
            _register_own_types()
            _own_registered = True


def _register_own_types() -> None:
    from .. import patterns
    from ..actors import _childspec, _supervision
    from ..mailbox import _spec
    from ..sharding import _messages as sharding

    own: list[Callable[..., Any] | type] = [_supervision._default_decider]
    modules = [_childspec, _supervision, _spec, sharding, patterns]
    modules += [importlib.import_module(f"rayka.patterns.{info.name}")
                for info in pkgutil.iter_modules(patterns.__path__)]
    for module in modules:
        own += [value for value in vars(module).values()
                if (_is_record_type(value) or (isinstance(value, type) and issubclass(value, enum.Enum)))
                and value.__module__.startswith("rayka.")]
    for value in own:
        if value not in _by_object:
            register(value, name=_default_name(value))


class NotByName(Exception):
    """Carry "this object cannot travel by name" out of msgpack's ``default`` callback."""


def wire_form(obj: Any) -> tuple[bool, list]:
    """What ``obj`` travels as on the msgpack wire: ``(is_error, fields)``.

    A registered record is ``[name, [field values]]``, an enum member
    ``[name, value]``, a registered function or an actor class ``[name]``,
    an exception ``[type name, args, message]`` (``args`` ``None`` when
    they are not plain data: the message then stands in for them).

    Raises:
        NotByName: ``obj`` is none of these.
    """
    if not _own_registered:
        _register_own()
    cls = type(obj)
    fields = _fields.get(cls)
    if fields is not None:
        return False, [_by_object[cls], [getattr(obj, field) for field in fields]]
    if isinstance(obj, enum.Enum):
        name = name_of(cls)
        if name is not None:
            return False, [name, obj.value]
    elif isinstance(obj, BaseException):
        return True, [_default_name(cls), list(obj.args), str(obj)]
    name = name_of(obj)
    if name is None:
        raise NotByName(obj)
    return False, [name]


def from_wire(form: Any) -> Any:
    """Rebuild what :func:`wire_form` made (not an error: see :func:`error_from_wire`).

    Raises:
        SerializationError: the name is not registered here, or the form does not fit it.
    """
    if type(form) is not list or not 1 <= len(form) <= 2 or type(form[0]) is not str:
        raise SerializationError(f"a by-name value must be [name] or [name, data], got {form!r:.80}")
    target = resolve(form[0])
    if len(form) == 1:
        return target
    data = form[1]
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return target(data)
    if target in _fields and type(data) is list:
        return target(*data)
    raise SerializationError(f"{form[0]} arrived with data but is not a record or enum type: {data!r:.80}")


def error_from_wire(form: Any) -> BaseException:
    """Rebuild an exception: its own class if this process has imported it, else a ``RemoteError``.

    Only classes whose module is already imported here are used (an error
    never makes a node import anything).
    """
    from .._errors import RemoteError

    if type(form) is not list or len(form) != 3 or type(form[0]) is not str:
        return RemoteError("?", f"an error arrived in a shape rayka does not know: {form!r:.80}")
    name, args, message = form
    module, _, qualname = name.partition(":")
    target = _attribute(sys.modules.get(module), qualname)
    if isinstance(target, type) and issubclass(target, Exception):
        try:
            return target(*args) if type(args) is list else target(str(message))
        except Exception:  # noqa: BLE001, S110 - a class whose __init__ wants other arguments
            pass
    return RemoteError(name, str(message))
