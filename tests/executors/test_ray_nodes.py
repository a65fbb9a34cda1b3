"""The Ray executor on simulated nodes: a `ray.cluster_utils.Cluster` of two 1-CPU nodes whose
custom resources (`kind_a`, `kind_b`) stand in for two kinds of hardware."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.executors import open_executor
from harness.results.runs import load_runs, row_labels
from harness.results.store import load_results
from harness.sweep.run import run_sweep, start_run
from harness.terminal.summary import summary_text
from tests.case.test_lifeline import wait_for
from tests.conftest import ran_rows
from tests.executors.test_ray import config
from tests.ray_support import ray_environment

# ray is an extra (`pip install archbench[ray]`): without it these tests skip, saying why
ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e .[ray]")
Cluster = pytest.importorskip("ray.cluster_utils").Cluster

KINDS = ("kind_a", "kind_b")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    with ray_environment(tmp_path_factory.mktemp("ray-nodes")) as paths:
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "include_dashboard": False})  # the head runs no case
        handles = {kind: cluster.add_node(num_cpus=1, resources={kind: 1}) for kind in KINDS}
        try:
            ray.init(address=cluster.address, log_to_driver=False)
            cluster.wait_for_nodes()
            ids = {kind: next(n["NodeID"] for n in ray.nodes() if kind in n["Resources"])
                   for kind in KINDS}
            # one executor for the module: it probes the nodes' hardware once
            executor, probed = open_executor("ray", config(), per_hardware=True)
            yield SimpleNamespace(cluster=cluster, handles=handles, ids=ids, executor=executor,
                                  hardware=probed.hardware, **vars(paths))
        finally:
            ray.shutdown()
            cluster.shutdown()


def test_per_hardware_runs_the_matrix_on_each_kind_and_rows_name_their_node(
        nodes: SimpleNamespace, results_dir: Path) -> None:
    """Inference, so that the reference weights are trained once, by the first case, and
    shipped through the object store to the other."""
    assert [kind.rsplit("-", 1)[1] for kind in nodes.hardware] == list(KINDS)
    sweep = config("mlp", phases=("infer",), hardware=nodes.hardware)
    run_dir = start_run(sweep, results_dir, "kinds")
    rows = ran_rows(run_dir, run_sweep(run_dir, sweep, progress=False,
                                       executor=nodes.executor))
    assert [row["status"] for row in rows] == ["ok", "ok"]
    for row, kind in zip(rows, KINDS, strict=True):
        assert row["hardware"].endswith(kind)
        assert row["case_id"].endswith(f"-on-{row['hardware']}")
        assert row["node"].startswith(nodes.ids[kind][:12])
    assert [name.startswith("mlp-tiny-") for name in nodes.executor.shipped] == [True]

    # hardware is a case dimension of the table and of the report's labels
    table = summary_text(load_results(results_dir / "kinds"))
    assert all(kind in table for kind in sweep.hardware)
    labels = row_labels(load_runs([results_dir / "kinds"]).results, multi_run=False)
    assert labels.tolist() == [f"mlp · tiny · {kind}" for kind in sweep.hardware]


def test_a_node_lost_mid_case_gives_a_crashed_row_and_the_sweep_goes_on(
        nodes: SimpleNamespace, results_dir: Path) -> None:
    """Both kinds hold a case; kind_b's node goes away; kind_a's case then finishes."""
    sweep = config("sleepy", hardware=nodes.hardware)
    nodes.hold.touch()

    def lose_kind_b() -> None:
        assert wait_for(lambda: nodes.sleepy_pid.exists()
                        and len(nodes.sleepy_pid.read_text().split()) == 2, 120)
        nodes.cluster.remove_node(nodes.handles["kind_b"])
        nodes.hold.unlink()

    thread = threading.Thread(target=lose_kind_b, daemon=True)
    thread.start()
    run_dir = start_run(sweep, results_dir, "lost")
    rows = ran_rows(run_dir, run_sweep(run_dir, sweep, progress=False,
                                       executor=nodes.executor))
    thread.join()
    assert [row["status"] for row in rows] == ["ok", "crashed"]
    assert rows[1]["reason"].startswith(f"node lost: {nodes.ids['kind_b'][:12]}@"), rows[1]
