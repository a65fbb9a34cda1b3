"""`archbench run --executor ...`: options that need a Ray cluster are refused in one line
before anything starts (no Ray is started by these tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases import SweepConfig
from harness.sweep.run import start_run
from tests.conftest import MLP_SUITE_FILE
from tests.test_cli import assert_usage_error, run_cli

MLP = ("--suite-file", MLP_SUITE_FILE, "--suite", "mlp", "--size", "tiny", "--quick",
       "--no-progress")


@pytest.mark.parametrize(("options", "expected"), [
    (("--cases-per-node", "2"),
     "--cases-per-node place cases on a Ray cluster; add --executor ray"),
    (("--per-hardware",), "--per-hardware place cases on a Ray cluster"),
    (("--ray-address", "10.0.0.1:6379", "--accelerator-type", "A10G"),
     "--ray-address, --accelerator-type place cases on a Ray cluster"),
    (("--executor", "ray", "--profile"), "it runs with --executor local only"),
    (("--executor", "ray", "--cases-per-node", "0"),
     "cases per node must be a positive integer, got 0"),
    (("--executor", "slurm"), "invalid choice: 'slurm' (choose from 'local', 'ray')"),
])
def test_options_for_a_cluster_are_refused_in_one_line(options: tuple[str, ...], expected: str,
                                                       results_dir: Path) -> None:
    assert_usage_error(run_cli("run", *MLP, *options, "--results", results_dir), expected)
    assert not results_dir.exists()  # refused before the run was started


def test_a_run_made_per_hardware_resumes_with_the_ray_executor_only(results_dir: Path) -> None:
    config = SweepConfig(suites=("mlp",), sizes=("tiny",), suite_files=(str(MLP_SUITE_FILE),),
                         quick=True, hardware=("nvidia-a10g", "nvidia-h100"))
    start_run(config, results_dir, "kinds")
    assert_usage_error(run_cli("run", "--resume", "kinds", "--results", results_dir),
                       "--per-hardware place cases on a Ray cluster; add --executor ray")
    assert_usage_error(run_cli("run", "--resume", "kinds", "--per-hardware", "--executor",
                               "ray", "--results", results_dir),
                       "--resume takes the run's own configuration; drop --per-hardware")
