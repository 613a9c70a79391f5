"""RayCluster(tls=...): Ray's channels encrypted on loopback with certificates made here; rayka's messages flow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rayka.cluster import TLS

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]
REPO = Path(__file__).resolve().parents[2]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def certificates(directory: Path) -> None:
    """A CA, a server certificate it signs for 127.0.0.1, and another CA that signed nothing here."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
                "-days", "2", "-subj", f"/CN=rayka test {ca}", cwd=directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.cnf", cwd=directory)


def test_a_tls_cluster_encrypts_rays_channels_and_rayka_messages_still_flow(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed to make the test certificates (.ci/run installs it)")
        pytest.skip("openssl is not installed")
    certificates(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_TLS_", "RAY_USE_TLS"))}
    # The drill starts with Ray's TLS variables set, as every driver and `ray start` of a real cluster does
    # (README, "Security"), and RayCluster(tls=...) sets the same ones again. With only the latter, a drill
    # late in a long test run sometimes had its driver fail to reach its own TLS GCS (design.md, "TLS").
    env.update(TLS(cert=str(tmp_path / "server.crt"), key=str(tmp_path / "server.key"),
                   ca=str(tmp_path / "ca.crt")).environment())
    try:
        done = subprocess.run([sys.executable, str(REPO / "tests" / "cluster" / "tls_drill.py"), str(tmp_path)],
                              cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                              timeout=220)
    except subprocess.TimeoutExpired as stuck:  # say where it stood
        tail = [(part or b"")[-3000:] for part in (stuck.stdout, stuck.stderr)]
        pytest.fail(f"the TLS drill did not finish in 220 s; its output so far: {tail}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["env"] == "1"
    assert result["driver"] == [1_000, True] and result["node"] == [500, True] and result["sent"] == 500
    assert result["right_ca"] == "ok"  # the GCS speaks TLS with a certificate from our CA ...
    assert result["other_ca"] == "SSLCertVerificationError"  # ... so a client trusting another CA is refused
    plain = bytes.fromhex(result["plain"])  # a client without TLS gets no HTTP/2 SETTINGS frame (type 4) back
    assert len(plain) < 4 or plain[3] != 0x04, plain


def test_tls_settings_are_set_in_the_environment_before_ray_starts(tmp_path: Path, monkeypatch) -> None:
    for name in ("server.crt", "server.key", "ca.crt"):
        (tmp_path / name).write_text("PEM")
    for name in ("RAY_USE_TLS", "RAY_TLS_SERVER_CERT", "RAY_TLS_SERVER_KEY", "RAY_TLS_CA_CERT"):
        monkeypatch.setenv(name, "")  # records what was there, so apply()'s values are undone after the test
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    TLS(cert="server.crt", key="server.key", ca="ca.crt").apply()
    assert os.environ["RAY_USE_TLS"] == "1"
    assert os.environ["RAY_TLS_CA_CERT"] == str(tmp_path / "ca.crt")  # absolute, so Ray's processes find it
    with pytest.raises(FileNotFoundError, match="cert file 'missing.crt' does not exist"):
        TLS(cert="missing.crt", key="server.key", ca="ca.crt").environment()


def test_the_tls_settings_of_the_test_above_did_not_leak_into_this_process() -> None:
    assert not any(name.startswith(("RAY_USE_TLS", "RAY_TLS_")) for name in os.environ)  # later tests start Ray
