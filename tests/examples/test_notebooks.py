"""Every notebook runs top to bottom in a Jupyter kernel, and its cells show what they promise."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.examples.conftest import NOTEBOOKS

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def kernel() -> str:
    """The ``python3`` kernel for this interpreter, installed into ``sys.prefix`` if it is missing."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                       check=True, capture_output=True)
    return "python3"


def execute(name: str, kernel: str, timeout: int = 120) -> list[dict]:
    """Run ``notebooks/NAME`` in ``notebooks/`` and return its code cells, outputs included."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, kernel_name=kernel, timeout=timeout,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def text_of(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def result_of(cell: dict) -> str:
    """The cell's value (``Out[n]``) as text."""
    return "".join(o["data"].get("text/plain", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "execute_result")


def html_of(cell: dict) -> str:
    return "".join(output.get("data", {}).get("text/html", "") for output in cell.get("outputs", []))


def test_every_notebook_is_in_the_suite() -> None:
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == [
        "cluster.ipynb", "producer_consumer.ipynb", "quickstart.ipynb", "supervision.ipynb"]


def test_quickstart_notebook_shows_the_system_and_a_ref_and_runs_again_without_leaks(kernel: str) -> None:
    cells = execute("quickstart.ipynb", kernel)
    outputs = [text_of(cell) for cell in cells]
    html = [html_of(cell) for cell in cells]
    assert any("<b>ActorSystem quickstart</b>" in h for h in html)  # the rich display of the system
    assert any("<b>ActorRef</b> <code>/user/hello</code>" in h for h in html)  # ... and of a ref
    assert any(" [x] Received 'Hello World!'" in o for o in outputs)
    assert any("same actor: True | actors running: 1" in o for o in outputs)
    assert any(result_of(cell) == "2" for cell in cells)  # the awaited ask, after the second message
    assert any("figures (sender -> receiver)" in o and "msgs/s" in o for o in outputs)
    assert any("3 calls answered: True | pages: 8 | fetched at once: 8" in o for o in outputs)  # proxies, gather


def test_supervision_notebook_draws_the_tree_and_shows_the_restart(kernel: str) -> None:
    cells = execute("supervision.ipynb", kernel)
    out = "".join(text_of(cell) for cell in cells)
    assert "└── workers (Supervisor) [running, 0 queued]" in out
    assert "w1 (Worker) [running, 0 queued, 1 restart]" in out
    assert "the restart was seen: w1 starts again at 0 jobs, 1 restart(s) in the system" in out


def test_producer_consumer_notebook_plots_its_metrics(kernel: str) -> None:
    cells = execute("producer_consumer.ipynb", kernel)
    images = [o for cell in cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 3  # throughput and latency by consumers; rates by class; queue length over time
    out = "".join(text_of(cell) for cell in cells)
    assert int(re.search(r"live view: (\d+) updates of system.metrics\(\)", out).group(1)) >= 3
    live = next(cell for cell in cells if "live = system.live(" in cell.source)
    assert "<b>rayka live: producer-consumer</b>" in html_of(live) and ", stopped)" in html_of(live)
    assert "consumers    msgs/s  queue ms receive ms" in out
    assert "backpressure kept the queue at 2 or less; the pool finished first" in out


@pytest.mark.cluster
def test_cluster_notebook_kills_a_node_and_sees_the_recovery(kernel: str) -> None:
    cells = execute("cluster.ipynb", kernel, timeout=150)
    out = "".join(text_of(cell) for cell in cells)
    assert "killed node runtime n1 (SIGKILL)" in out
    assert "recovered: True; live node runtimes: ['n0']" in out
    live = next(cell for cell in cells if cell.source.startswith("live = system.live("))
    view = html_of(live)  # updated in place: the cell shows the last refresh
    assert "<b>rayka live: cluster-notebook</b>" in view and ", stopped)" in view
    assert "<td>n0</td>" in view and "<caption>actor classes</caption>" in view
    updates = int(re.search(r"live view: (\d+) updates", out).group(1))
    assert updates >= 3 and f"({updates} updates, stopped)" in view
    images = [o for cell in cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1  # rates by actor class over the run
    assert "producer confirmed 40/40, missing 0" in out
    assert "nothing lost" in out
