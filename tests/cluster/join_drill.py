"""Join a token-protected Ray cluster by address, without and with its token (run by test_join_by_address.py).

Runs in its own process; the head gets a fresh token, and each joiner its own empty HOME. Prints
``RESULT {json}``: what a process without the token got, and what one with it could do.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_AUTH_MODE"] = "token"

JOIN = """
import json, time
import rayka
from tests.cluster.cluster_actors import Counter
started = time.monotonic()
try:
    with rayka.ActorSystem("joiner", cluster=rayka.RayCluster(address={address!r}, nodes=1)) as system:
        counter = system.spawn(Counter, node=0)
        counter.tell(("add", 5))
        outcome = ["joined", counter.ask("count", timeout=30).result()]
except rayka.TransportError as error:
    outcome = ["TransportError", str(error)]
print("JOIN " + json.dumps(outcome + [time.monotonic() - started]))
"""


def join(address: str, token: str | None) -> list:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = tempfile.mkdtemp()  # no ~/.ray/auth_token to fall back on
    if token is not None:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    done = subprocess.run([sys.executable, "-c", JOIN.format(address=address)], env=env, capture_output=True,
                          text=True, timeout=150)
    lines = [line for line in done.stdout.splitlines() if line.startswith("JOIN ")]
    if not lines:
        return ["crashed", done.stdout[-1500:] + done.stderr[-1500:]]
    return json.loads(lines[-1].removeprefix("JOIN "))


def main() -> None:
    from ray.cluster_utils import Cluster

    token = secrets.token_hex(32)  # the cluster's token, as a cloud config provides it
    os.environ["RAY_AUTH_TOKEN"] = token
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 2, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    try:
        result = {"without": join(cluster.address, None), "with": join(cluster.address, token)}
    finally:
        cluster.shutdown()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
