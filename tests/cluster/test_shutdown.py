"""A cluster-mode system that started its own Ray instance leaves no Ray process behind."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]

SCRIPT = textwrap.dedent("""
    import os
    import psutil
    import rayka

    class Echo(rayka.Actor):
        def receive(self, message):
            return message

    me = psutil.Process()
    system = rayka.ActorSystem("own", cluster=rayka.RayCluster(nodes=2, num_cpus=1))
    assert system.spawn(Echo, node=1).ask("up", timeout=30).result() == "up"
    children = me.children(recursive=True)
    node_pids = {info["pid"] for info in system.cluster.node_info().values()}
    assert node_pids <= {p.pid for p in children}
    system.shutdown()
    _, alive = psutil.wait_procs(children, timeout=20)
    alive = [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    print("STARTED", len(children), "NODES", len(node_pids), "ALIVE", sorted(alive))
""")


def test_shutdown_of_a_system_that_started_ray_leaves_no_ray_processes(tmp_path):
    script = tmp_path / "own_ray.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=150)
    lines = [line for line in result.stdout.splitlines() if line.startswith("STARTED")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    words = lines[0].split()
    assert int(words[1]) >= 3 and int(words[3]) == 2  # raylet, gcs, workers... and our two node runtimes
    assert lines[0].endswith("ALIVE []"), lines[0]
