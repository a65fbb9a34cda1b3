"""How a case is measured: one scenario per question a number answers.

- `latency` (`latency.py`): one step at a time, the device synchronised after each: what a
  request-at-a-time server sees, launch overhead included.
- `throughput` (`throughput.py`): blocks of steps with one synchronisation per block, so the
  host queues work while the device runs: what a pipelined loop sees.
- `batch-sweep` (`batch_sweep.py`): throughput and latency against batch size, doubling from 1
  to the knee, and on CUDA on to the largest batch that fits.
- `server`, `single-stream`, `multi-stream`, `offline` (`serving.py`): MLPerf LoadGen's
  scenarios against the bound steps behind a dynamic batcher (`harness.serving`): latency
  under random arrivals, and the highest rate a p99 target allows.

`harness.case.process` prepares a case and hands the scenario a `Binding` (the runner, and a way to
bind a batch of any size) and a `ScenarioRequest` (batch size, timing policy, the monitors
around the timed region). The scenario times it and returns a `ScenarioOutcome`: the row's
timing columns, raw samples and any profile; everything else (accuracy, parity, the training
budget) stays in the case's process.

May import: `measure`, `backends` (runner types), `profiling` (the profile's outcome type),
`serving`, `errors`. Never `harness.case`: a scenario is given what it needs and returns what
it measured.
"""

from __future__ import annotations

from harness.errors import unknown_choice
from harness.scenarios.base import (
    Binding,
    OutOfMemory,
    Scenario,
    ScenarioOutcome,
    ScenarioRequest,
    is_out_of_memory,
)
from harness.scenarios.batch_sweep import BATCH_SWEEP
from harness.scenarios.latency import LATENCY
from harness.scenarios.serving import MULTI_STREAM, OFFLINE, SERVER, SINGLE_STREAM
from harness.scenarios.throughput import THROUGHPUT

IMPLEMENTED: dict[str, Scenario] = {s.name: s for s in (
    LATENCY, THROUGHPUT, BATCH_SWEEP, SERVER, SINGLE_STREAM, MULTI_STREAM, OFFLINE)}


def get_scenario(name: str) -> Scenario:
    if name not in IMPLEMENTED:
        raise unknown_choice("scenario", name, list(IMPLEMENTED))
    return IMPLEMENTED[name]


__all__ = ["IMPLEMENTED", "Binding", "OutOfMemory", "Scenario", "ScenarioOutcome",
           "ScenarioRequest", "get_scenario", "is_out_of_memory"]
