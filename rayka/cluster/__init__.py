"""Cluster mode: the only package that imports Ray.

``RayCluster`` is importable without Ray being started; Ray is imported when
an ``ActorSystem(..., cluster=RayCluster(...))`` starts.
"""

from __future__ import annotations

from ._backend import ClusterRuntime, RayCluster
from ._named import register
from ._tls import TLS

__all__ = ["ClusterRuntime", "RayCluster", "TLS", "register"]
