"""Run a RayCluster with TLS on loopback (its own process: the TLS settings must not reach other tests' Ray)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

import cloudpickle  # noqa: E402

import rayka  # noqa: E402
from rayka.cluster import TLS  # noqa: E402
from tests.cluster import cluster_actors  # noqa: E402

cloudpickle.register_pickle_by_value(cluster_actors)


def handshake(address: str, cafile: str) -> str:
    """A TLS handshake with the GCS trusting only ``cafile``: "ok", or the error's class name."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                return "ok"
    except (ssl.SSLError, OSError) as error:
        return type(error).__name__


def plain_answer(address: str) -> bytes:
    """What the GCS answers a client that speaks HTTP/2 without TLS (gRPC's preface)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000"))
        try:
            return raw.recv(64)
        except OSError:
            return b""


def main(directory: str) -> None:
    tls = TLS(cert=f"{directory}/server.crt", key=f"{directory}/server.key", ca=f"{directory}/ca.crt")
    cluster = rayka.RayCluster(nodes=2, tls=tls, log_to_driver=False)
    with rayka.ActorSystem("tls", cluster=cluster) as system:
        import ray

        from_driver = system.spawn(cluster_actors.Counter, node=1)
        for n in range(1_000):
            from_driver.tell(n)
        from_node = system.spawn(cluster_actors.Counter, node=1)
        sender = system.spawn(cluster_actors.Sender, node=0)  # node runtime to node runtime
        sent = sender.ask(("go", from_node, 500), timeout=60).result()
        result = {
            "driver": [from_driver.ask(q, timeout=60).result() for q in ("count", "in_order")],
            "node": [from_node.ask(q, timeout=60).result() for q in ("count", "in_order")], "sent": sent,
            "env": os.environ.get("RAY_USE_TLS"),
        }
        gcs = ray.get_runtime_context().gcs_address
        result["right_ca"] = handshake(gcs, f"{directory}/ca.crt")
        result["other_ca"] = handshake(gcs, f"{directory}/other-ca.crt")
        result["plain"] = plain_answer(gcs).hex()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
