"""The backend contract: the one way the core talks to "where actors live".

``ActorSystem`` hosts actors on its own loop. Everything that depends on
where the *other* actors live (placement on other processes, cluster-wide
names, refs that travel, actors the core does not host) goes through one
:class:`Backend`. :class:`Embedded` is the one-process backend;
``rayka.cluster`` implements it for the driver and for each node runtime.
A backend is made by a *factory* passed as ``ActorSystem(cluster=...)``:
an object whose ``start(system)`` returns the backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["Backend", "BackendFactory", "Embedded"]


@runtime_checkable
class Backend(Protocol):
    """Where actors live, as the core sees it."""

    def spawn(self, cls: Any, args: tuple, kwargs: dict, *, name: str | None, mailbox: Any, restart: Any,
              node: Any) -> ActorRef:
        """Start a top-level actor, placed by ``node`` (``None``: the backend's choice)."""

    def spawn_child(self, parent: Any, cls: Any, args: tuple, kwargs: dict, *, name: str | None, mailbox: Any,
                    restart: Any, node: Any) -> ActorRef:
        """Start a child of the local cell ``parent`` on ``node``; ``parent`` supervises it."""

    def lookup(self, name: str) -> ActorRef | None:
        """The top-level actor registered under ``name`` anywhere, or ``None`` if there is none."""

    def actor_terminated(self, cell: Any) -> None:
        """A top-level actor hosted here terminated: free its name (called on the loop)."""

    def reduce_ref(self, cell: Any) -> tuple:
        """How a ref to a local cell pickles (``TypeError`` if refs cannot leave the process)."""

    def wait_terminated(self, ref: ActorRef, timeout: float | None) -> bool:
        """Block until an actor this process does not host has terminated."""

    def statistics(self) -> dict[str, int]:
        """Counters of the actors this process does not host, to add to the system's own."""

    def metrics_parts(self, top: int) -> list[dict]:
        """Each node's part of ``system.metrics()`` (``spi.collect_node``), this process's included."""

    def shutdown(self) -> None:
        """Stop what the backend started (node runtimes, Ray); the system stops its own tree."""


class BackendFactory(Protocol):
    def start(self, system: Any) -> Backend: ...


class Embedded:
    """One process, no other node: placement, names and refs stay in the system."""

    def __init__(self, system: Any) -> None:
        self.system = system

    def spawn(self, cls: Any, args: tuple, kwargs: dict, *, name: str | None, mailbox: Any, restart: Any,
              node: Any) -> ActorRef:
        if node is not None and node != "spread":  # "spread" over one node: here, so the same code runs embedded
            raise ValueError(f"spawn({getattr(cls, '__name__', cls)!r}, node={node!r}): placement needs "
                             "cluster mode; create the system with ActorSystem(name, cluster=rayka.RayCluster())")
        return self.system._user.spawn_child(cls, args, kwargs, name, mailbox, restart)

    def spawn_child(self, parent: Any, cls: Any, args: tuple, kwargs: dict, *, name: str | None, mailbox: Any,
                    restart: Any, node: Any) -> ActorRef:
        if node is not None and node != "spread":  # "spread" over one node: here
            raise ValueError(f"{parent.path}: spawn(..., node={node!r}) needs cluster mode")
        return parent.spawn_child(cls, args, kwargs, name, mailbox, restart)

    def lookup(self, name: str) -> ActorRef | None:
        return None

    def actor_terminated(self, cell: Any) -> None:
        return None

    def reduce_ref(self, cell: Any) -> tuple:
        raise TypeError(
            f"the ref to {cell.path} belongs to an embedded actor system and cannot be pickled; "
            "use cluster mode (ActorSystem(name, cluster=rayka.RayCluster())) to send refs between processes"
        )

    def wait_terminated(self, ref: ActorRef, timeout: float | None) -> bool:
        raise TypeError(f"{ref.path} belongs to another actor system; wait on it with that system")

    def statistics(self) -> dict[str, int]:
        return {}

    def metrics_parts(self, top: int) -> list[dict]:
        from ._stats import collect_node

        return [collect_node(self.system, "local", top)]

    def shutdown(self) -> None:
        return None
