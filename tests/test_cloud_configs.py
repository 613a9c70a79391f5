"""The cloud configs under examples/cloud parse, set up rayka on every node, and are secure by default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.timeout(10)
CLOUD = Path(__file__).resolve().parents[1] / "examples" / "cloud"


def launcher() -> dict:
    return yaml.safe_load((CLOUD / "ray-cluster.yaml").read_text())


def kuberay() -> list[dict]:
    return list(yaml.safe_load_all((CLOUD / "kuberay-cluster.yaml").read_text()))


def test_the_ray_cluster_launcher_config_installs_rayka_from_the_checkout_on_every_node():
    config = launcher()
    assert config["head_node_type"] in config["available_node_types"]
    assert any("rayka" in command for command in config["setup_commands"])
    assert "." in config["file_mounts"].values()
    assert "--ray-client-server-port=10001" in " ".join(config["head_start_ray_commands"])


def test_the_launcher_config_turns_token_auth_on_keeps_the_dashboard_local_and_opens_only_ssh():
    config = launcher()
    starts = [c for c in config["head_start_ray_commands"] + config["worker_start_ray_commands"] if "ray start" in c]
    assert len(starts) == 2 and all("RAY_AUTH_MODE=token" in c and "RAY_AUTH_TOKEN_PATH=" in c for c in starts)
    assert "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"])
    token = config["file_mounts"]["/home/ubuntu/.ray/auth_token"]
    assert token.startswith("~/.ray/") and not (CLOUD / Path(token).name).exists()  # made by the user, not here
    assert "chmod 600 /home/ubuntu/.ray/auth_token" in config["setup_commands"]
    (ssh,) = config["provider"]["security_group"]["IpPermissions"]  # the only rule from outside the group
    assert (ssh["FromPort"], ssh["ToPort"]) == (22, 22)
    assert all(r["CidrIp"] != "0.0.0.0/0" and r["CidrIp"].endswith("/32") for r in ssh["IpRanges"])
    text = (CLOUD / "ray-cluster.yaml").read_text()
    assert "ray dashboard examples/cloud/ray-cluster.yaml" in text  # how to reach it: forwarded over SSH


def test_the_kuberay_config_runs_an_image_with_rayka_in_head_and_workers():
    config = kuberay()[0]
    assert config["kind"] == "RayCluster"
    head = config["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    workers = [g["template"]["spec"]["containers"][0]["image"] for g in config["spec"]["workerGroupSpecs"]]
    assert "rayka" in head and all("rayka" in image for image in workers)


def test_the_kuberay_config_uses_a_secret_token_a_local_dashboard_and_a_cluster_only_network_policy():
    cluster, policy = kuberay()
    spec = cluster["spec"]
    assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "127.0.0.1"
    containers = [spec["headGroupSpec"]["template"]["spec"]["containers"][0]] + [
        g["template"]["spec"]["containers"][0] for g in spec["workerGroupSpecs"]]
    for container in containers:
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "rayka-ray-token", "key": "token"}
        assert "value" not in env["RAY_AUTH_TOKEN"]  # never a literal token in the file
    assert policy["kind"] == "NetworkPolicy" and policy["spec"]["policyTypes"] == ["Ingress"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector == {"ray.io/cluster": cluster["metadata"]["name"]}
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": selector}}]}]
    text = (CLOUD / "kuberay-cluster.yaml").read_text()
    assert re.search(r"kubectl port-forward pod/.* 8265:8265", text)
    assert "kubectl create secret generic rayka-ray-token" in text
