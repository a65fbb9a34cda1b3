"""How a sweep's case processes get run: `local` (this machine, one at a time, in rounds) or
`ray` (a Ray cluster, as many at once as its nodes hold). One interface, `base.Executor`; the
isolation of one process, which both share, is `isolation`; what crosses into the process and
back is typed in `harness.protocol`.

May import: `protocol`, `cases`, `results` (the case result, the schema check, atomic writes),
`backends` (a node's availability), `machine.memory_limit` (a case process's limit), `errors`.
Never `harness.sweep`: an executor sees a sweep through `base.SweepView`, and launches the
case's process (`python -m harness.case.worker`) without importing it."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.cases import SweepConfig
    from harness.executors.base import Executor

EXECUTORS = ("local", "ray")


def open_executor(name: str, config: SweepConfig, address: str | None = None,
                  per_hardware: bool = False) -> tuple[Executor, SweepConfig]:
    """The executor `name` for `config`, and the config with the kinds of node to run on
    when `per_hardware` (found in the cluster, so the matrix is fixed when the run starts).
    Close the executor after the sweep."""
    placement = {"--ray-address": address, "--per-hardware": per_hardware or config.hardware,
                 "--cases-per-node": config.cases_per_node != 1,
                 "--max-retries": config.max_retries != 1,  # a lost node: not on one machine
                 "--accelerator-type": config.accelerator_type}
    if name == "local":
        given = [flag for flag, value in placement.items() if value]
        if given:
            raise UsageError(f"{', '.join(given)} place cases on a Ray cluster; "
                             "add --executor ray")
        from harness.executors.local import LocalExecutor
        return LocalExecutor(), config
    if name != "ray":
        raise UsageError(f"unknown executor '{name}'; valid: {', '.join(EXECUTORS)}")
    if config.budget_min:
        raise UsageError("--budget-min spends a budget one process at a time, where this "
                         "machine's cases are noisiest; it runs with --executor local only "
                         "(on a cluster, give --processes)")
    if config.profile:
        raise UsageError("--profile measures this machine's ceilings and writes traces here; "
                         "it runs with --executor local only")
    from harness.executors.ray import RayExecutor
    executor = RayExecutor.connect(address, config.accelerator_type)
    if per_hardware:
        try:
            config = dataclasses.replace(config, hardware=executor.hardware_kinds())
        except BaseException:
            executor.close()
            raise
    return executor, config
