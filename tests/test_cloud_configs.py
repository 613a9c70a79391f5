"""The cloud configs under examples/cloud parse and set up rayka on every node."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.timeout(10)
CLOUD = Path(__file__).resolve().parents[1] / "examples" / "cloud"


def test_the_ray_cluster_launcher_config_installs_rayka_from_the_checkout_on_every_node():
    config = yaml.safe_load((CLOUD / "ray-cluster.yaml").read_text())
    assert config["head_node_type"] in config["available_node_types"]
    assert any("rayka" in command for command in config["setup_commands"])
    assert "." in config["file_mounts"].values()
    assert "--ray-client-server-port=10001" in " ".join(config["head_start_ray_commands"])


def test_the_kuberay_config_runs_an_image_with_rayka_in_head_and_workers():
    config = yaml.safe_load((CLOUD / "kuberay-cluster.yaml").read_text())
    assert config["kind"] == "RayCluster"
    head = config["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    workers = [g["template"]["spec"]["containers"][0]["image"] for g in config["spec"]["workerGroupSpecs"]]
    assert "rayka" in head and all("rayka" in image for image in workers)
