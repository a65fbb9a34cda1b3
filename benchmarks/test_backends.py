"""Backend comparisons as pytest-benchmark tests.

Each test is one case (suite x size x backend x phase, batch size from the options, the latency
scenario), timed by pytest-benchmark's `pedantic` mode: explicit warm-up rounds, explicit rounds
of one iteration, and the device synchronised inside the timed callable, so asynchronous GPU work
is counted.
Tests are grouped by suite/size/phase, so `--benchmark-group-by=group` puts the backends of one
model side by side. `extra_info` carries what `archbench import` needs to rebuild rows.

Preparation (export, session creation, compilation) happens before `pedantic`, outside the
timed rounds, as in the harness. These tests run in pytest's process, not one process per
case: that is what pytest-benchmark users expect; the harness's sweep is the isolated one.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime
import torch

from harness.case.process import set_up_case
from harness.cases import Case, SweepConfig
from harness.measure.model_facts import count_params, flops_per_sample


def test_backend(benchmark, case: Case, archbench_config: SweepConfig, request,
                 archbench_cache_dir: Path) -> None:
    config = request.config
    # set up as a sweep's case process is: threads, backend settings, data, cache context;
    # the configuration carries the user's suite files and --archbench-model
    setup = set_up_case(case, archbench_config, archbench_cache_dir)
    suite, backend, data, ctx = setup.suite, setup.backend, setup.data, setup.ctx
    model = suite.model(case.size, data, seed=ctx.seed)
    # model facts first: preparing a CUDA backend moves the model to the device in place
    facts = {"params": count_params(model),
             "flops_per_sample": flops_per_sample(model, data.x_test[:1])}
    x, y = suite.synthetic_batch(data, case.batch_size, seed=ctx.seed)
    if case.phase == "infer":
        runner = backend.inference(model, ctx)
        step = runner.bind(x)
    else:
        runner = backend.training(model, suite.task, ctx)
        step = runner.bind(x, y)

    def synchronised_step() -> None:
        step()
        runner.sync()

    benchmark.group = f"{case.suite}-{case.size}-{case.phase}"
    benchmark.extra_info.update(
        suite=case.suite, size=case.size, backend=case.backend, phase=case.phase,
        scenario=case.scenario, batch_size=case.batch_size, device=backend.device,
        precision=backend.precision,
        **facts, **setup.settings, torch_threads=torch.get_num_threads(),
        torch_interop_threads=torch.get_num_interop_threads(), torch_version=torch.__version__,
        onnxruntime_version=onnxruntime.__version__, **runner.facts)
    benchmark.pedantic(synchronised_step, rounds=config.getoption("--archbench-rounds"),
                       warmup_rounds=config.getoption("--archbench-warmup"), iterations=1)
    assert benchmark.stats.stats.rounds == config.getoption("--archbench-rounds")
