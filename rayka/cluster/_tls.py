"""TLS for Ray's channels: ``RayCluster(tls=TLS(cert, key, ca))``.

Ray encrypts its gRPC channels (GCS, raylets, workers, the driver) when the
processes start with ``RAY_USE_TLS=1`` and the paths of a certificate, its
key and the CA that signed the peers' certificates. For a local cluster
rayka sets them before it starts Ray, so every Ray process it starts (the
node runtimes included) inherits them; on a real cluster every ``ray start``
and every driver needs the same settings (the environment variables below).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["TLS"]


@dataclass(frozen=True)
class TLS:
    """The files Ray's TLS needs: this node's certificate and key, and the CA that signs every node's.

    The certificate must name the address Ray binds (``IP:127.0.0.1`` in its
    subject alternative names for a local cluster).
    """

    cert: str
    key: str
    ca: str

    def environment(self) -> dict[str, str]:
        """The environment variables Ray reads (absolute paths, checked to exist)."""
        paths = {"RAY_TLS_SERVER_CERT": self.cert, "RAY_TLS_SERVER_KEY": self.key, "RAY_TLS_CA_CERT": self.ca}
        for name, path in paths.items():
            if not os.path.isfile(path):
                raise FileNotFoundError(f"RayCluster(tls=...): {name.split('_')[-1].lower()} file {path!r} does not "
                                        "exist; give TLS(cert=..., key=..., ca=...) readable PEM files")
        return {"RAY_USE_TLS": "1", **{name: os.path.abspath(path) for name, path in paths.items()}}

    def apply(self) -> None:
        """Set them in this process, before Ray starts (its processes inherit them)."""
        os.environ.update(self.environment())
