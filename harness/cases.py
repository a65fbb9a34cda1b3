"""The case matrix: a sweep configuration expanded into cases, each with a skip reason or not.

A case is suite x size x backend x phase x scenario x batch size. Cases a machine cannot run
are kept as planned-but-skipped (with the reason), so that the table says what was not
measured and why.

The scenario says what question the number answers (`harness.scenarios`): `latency`, one
request at a time, the device synchronised after each; `throughput`, pipelined, one
synchronisation per block of iterations; `batch-sweep`, throughput and latency against batch
size up to the knee or the memory limit. The default sweep asks what most users ask and stays
cheap (`DEFAULT_PLAN`): inference and training at `throughput` with batch 32, and on CUDA
inference also at `latency` with batch 1, where the gap between the two is the launch overhead
pipelining saves. On the CPU, latency runs on request (`--scenario latency`): execution there
is synchronous, and its 24 cases (3 processes each) took the default sweep on a 2-core AVX2
machine from within its 8 minutes to 12 min 24 s. `batch-sweep` runs on request. Batch sizes
given explicitly replace each scenario's default batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from harness.backends import BACKENDS, get_backend
from harness.backends.base import PHASES, no_cuda_reason
from harness.errors import UsageError, unknown_choice
from harness.measure.precision import DEFAULT_MAX_PROCESSES, DEFAULT_PRECISION
from harness.measure.timing import (
    DEFAULT_POLICY,
    DEFAULT_PROCESSES,
    PROCESS_POLICY,
    QUICK_POLICY,
    TimingPolicy,
)
from harness.protocol import Case
from harness.results.cost import parse_price
from harness.serving.options import ServingOptions
from suites.model_target import ModelTarget
from suites.registry import available_suites

DEFAULT_TIMEOUT_S = 900.0
SCENARIOS = ("latency", "throughput", "batch-sweep", "server", "single-stream", "multi-stream",
             "offline")
#: MLPerf LoadGen's scenarios (`harness.scenarios.serving`): inference only.
SERVING_SCENARIOS = ("server", "single-stream", "multi-stream", "offline")
#: The batch a scenario runs at unless batch sizes are given (batch-sweep: where it starts;
#: server and offline: the dynamic batcher's largest batch; multi-stream: samples a query,
#: MLPerf's default 8; single-stream: always one sample a query).
SCENARIO_BATCH = {"latency": 1, "throughput": 32, "batch-sweep": 1, "server": 32,
                  "single-stream": 1, "multi-stream": 8, "offline": 32}
#: Scenarios whose batch is their own whatever batch sizes are given.
FIXED_BATCH = ("batch-sweep", "single-stream")
SERVING_TRAIN_REASON = ("serving scenarios measure inference: a server answers requests, it "
                        "does not train")
#: What a sweep that names no scenario measures, per device and phase (see the module doc).
DEFAULT_PLAN = {"cuda": {"infer": ("throughput", "latency"), "train": ("throughput",)},
                "cpu": {"infer": ("throughput",), "train": ("throughput",)}}


_Config = TypeVar("_Config", bound="CaseConfig")


@dataclass(frozen=True)
class CaseConfig:
    """What a case's own process is told of its sweep, and all it is told: where its models
    come from (the user's suite files, `--model`), and how to measure (the policy). The rest of
    the sweep's configuration (which cases, where they run) is the driver's and the executor's
    business; a worker never sees it (`harness.protocol.WorkerSpec`)."""

    # where the models come from
    suite_files: tuple[str, ...] = ()
    model: str = ""  # --model package.module:factory: a suite of the model as built
    inputs: tuple[str, ...] = ()  # --input specs of that model (suites/inputs.py)
    output: str = ""  # --output: the tensor of its output that parity compares
    # how to measure
    quick: bool = False
    seed: int = 0
    threads: int = 0  # 0: every CPU available to the process
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_memory_gb: float = 0.0  # 0: a share of the machine (harness/machine/memory_limit.py)
    processes: int = 0  # 0: DEFAULT_PROCESSES, or 1 with `quick` (a smoke test)
    profile: bool = False  # profile each case after its timed region (harness/profiling/)
    energy: bool = True  # joules per sample where the hardware counts them (measure/energy.py)
    # the serving scenarios (harness/serving/options.py; None: the scenario's default)
    slo_ms: float | None = None
    max_wait_ms: float | None = None
    server_qps: float | None = None
    in_flight: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.threads, int) or self.threads < 0:
            raise UsageError(f"threads must be 0 (all available CPUs) or a positive integer, "
                             f"got {self.threads}")
        if not self.timeout_s > 0:
            raise UsageError(f"timeout must be a positive number of seconds, "
                             f"got {self.timeout_s}")
        if not self.max_memory_gb >= 0:
            raise UsageError(f"max memory must be a positive number of GB (0: the default "
                             f"share of the machine), got {self.max_memory_gb}")
        if not isinstance(self.processes, int) or self.processes < 0:
            raise UsageError(f"processes must be a positive integer, got {self.processes}")
        if self.processes == 0:  # resolved here, so the manifest records the number used
            object.__setattr__(self, "processes", 1 if self.quick else DEFAULT_PROCESSES)
        self.serving  # noqa: B018 -- made here so that a wrong value is one line

    @property
    def serving(self) -> ServingOptions:
        """What the user set for the serving scenarios."""
        return ServingOptions(self.slo_ms, self.max_wait_ms, self.server_qps, self.in_flight)

    @property
    def model_target(self) -> ModelTarget | None:
        """The suite `--model` describes, or None."""
        if not self.model:
            if self.inputs or self.output:
                raise UsageError("--input and --output describe a --model; give --model "
                                 "package.module:factory too")
            return None
        return ModelTarget(self.model, self.inputs, self.output)

    @property
    def timing_policy(self) -> TimingPolicy:
        """The timing protocol of each process: `--quick`'s tiny budgets, one long process
        (`--processes 1`, the single-process protocol), or shorter processes when several
        share the work of pinning the number down."""
        if self.quick:
            return QUICK_POLICY
        return DEFAULT_POLICY if self.processes == 1 else PROCESS_POLICY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[_Config], data: dict[str, Any]) -> _Config:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UsageError(f"malformed sweep config: unknown keys {sorted(unknown)}; "
                             f"valid keys: {', '.join(sorted(known))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


@dataclass(frozen=True)
class SweepConfig(CaseConfig):
    """A sweep's whole configuration, in three parts: what to run (the selection below, and
    the model sources of `CaseConfig`), how to measure (`CaseConfig`'s policy), and where to
    place it (the placement below, which only the executor reads). Empty selections mean:
    every suite, each suite's default sizes, every backend (unavailable ones become skipped
    rows, as do backends with a default-skip reason, such as emulated bf16, which run only
    when named)."""

    # what to run
    suites: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    phases: tuple[str, ...] = PHASES
    batch_sizes: tuple[int, ...] = ()  # (): each scenario's own batch (SCENARIO_BATCH)
    scenarios: tuple[str, ...] = ()  # (): DEFAULT_PLAN of each backend's device
    # Where the cases run on a Ray cluster (harness/executors/ray.py): the kinds of node the
    # matrix runs once on each (--per-hardware; () = any node), the accelerator type nodes
    # must have (--accelerator-type), how many CPU cases share a node (--cases-per-node), and
    # how often a process the cluster lost runs again (--max-retries). And what its machines
    # cost: dollars an hour per kind of machine (--price, --prices; harness/results/cost.py).
    hardware: tuple[str, ...] = ()
    accelerator_type: str = ""
    cases_per_node: int = 1
    max_retries: int = 1
    prices: tuple[tuple[str, float], ...] = ()
    # How many processes each case gets beyond `processes` (harness/measure/precision.py): a
    # budget of wall time for the whole sweep (0: none, the first rounds only), spent where
    # intervals are widest against the target, up to max_processes a case.
    precision: float = DEFAULT_PRECISION
    budget_min: float = 0.0
    max_processes: int = 0  # 0: DEFAULT_MAX_PROCESSES, or `processes` where that is more

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.cases_per_node, int) or self.cases_per_node < 1:
            raise UsageError(f"cases per node must be a positive integer, "
                             f"got {self.cases_per_node}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise UsageError(f"max retries must be 0 or a positive integer, "
                             f"got {self.max_retries}")
        if not 0 < self.precision < 1:
            raise UsageError(f"precision must be a share of the centre between 0 and 1 (0.05: "
                             f"+-5%), got {self.precision}")
        if not self.budget_min >= 0:
            raise UsageError(f"budget must be a positive number of minutes (0: none), "
                             f"got {self.budget_min}")
        if self.max_processes == 0:  # resolved here, so the manifest records the number used
            object.__setattr__(self, "max_processes", max(DEFAULT_MAX_PROCESSES, self.processes))
        if not isinstance(self.max_processes, int) or self.max_processes < self.processes:
            raise UsageError(f"max processes must be an integer at least --processes "
                             f"({self.processes}), got {self.max_processes}")
        # as pairs, also when read back from a manifest's JSON lists
        object.__setattr__(self, "prices", tuple(parse_price(f"{kind}={price}")
                                                 for kind, price in self.prices))

    def for_case(self) -> CaseConfig:
        """The part a case's process is told (`CaseConfig`)."""
        return CaseConfig(**{f.name: getattr(self, f.name) for f in fields(CaseConfig)})


@dataclass(frozen=True)
class PlannedCase:
    case: Case
    skip_reason: str | None = None


def expand(config: SweepConfig) -> list[PlannedCase]:
    """Every case of the sweep, in a stable order, validating every name on the way."""
    target = config.model_target
    suites = available_suites(config.suite_files, target)
    for name in config.suites:
        if name not in suites:
            raise unknown_choice("suite", name, list(suites))
    for phase in config.phases:
        if phase not in PHASES:
            raise unknown_choice("phase", phase, PHASES)
    for scenario in config.scenarios:
        if scenario not in SCENARIOS:
            raise unknown_choice("scenario", scenario, SCENARIOS)
    for batch_size in config.batch_sizes:
        if batch_size < 1:
            raise UsageError(f"batch size must be a positive integer, got {batch_size}")
    backends = [get_backend(name) for name in (config.backends or tuple(BACKENDS))]
    cuda = no_cuda_reason() is None  # larger default sizes where a GPU would idle on small ones

    planned = []
    # `--model` alone runs its model, not every built-in suite besides
    default_suites = (target.suite().name,) if target is not None else tuple(suites)
    for suite_name in config.suites or default_suites:
        suite = suites[suite_name]
        for size in config.sizes or suite.defaults(cuda):
            suite.config(size)  # raises, naming the suite's sizes
            for backend in backends:
                unavailable = backend.unavailable_reason()
                for phase in config.phases:
                    reason = (unavailable or backend.phase_unsupported_reason(phase)
                              or (suite.train_skip_reason() if phase == "train" else None)
                              or (None if config.backends
                                  else backend.default_skip_reason(phase)))
                    for scenario, batch_size in scenario_batches(config, phase,
                                                                 backend.device):
                        serving_train = phase == "train" and scenario in SERVING_SCENARIOS
                        planned.extend(
                            PlannedCase(Case(suite_name, size, backend.name, phase,
                                             batch_size, scenario, hardware),
                                        reason or (SERVING_TRAIN_REASON if serving_train
                                                   else None))
                            for hardware in config.hardware or ("",))
    return planned


def scenario_batches(config: SweepConfig, phase: str, device: str) -> list[tuple[str, int]]:
    """The (scenario, batch size) pairs a phase is measured at on `device`: the named
    scenarios or the device's default plan, each at the given batch sizes or its own; a batch
    sweep starts at its own."""
    pairs = []
    for scenario in config.scenarios or DEFAULT_PLAN[device][phase]:
        if scenario in FIXED_BATCH or not config.batch_sizes:
            pairs.append((scenario, SCENARIO_BATCH[scenario]))
        else:
            pairs.extend((scenario, batch_size) for batch_size in config.batch_sizes)
    return list(dict.fromkeys(pairs))
