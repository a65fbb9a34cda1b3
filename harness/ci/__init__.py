"""The CI gate (`archbench ci`): the pytest-benchmark suite in fresh processes (`processes`),
judged against a baseline of the same machine kind or a base version measured beside it
(`checkout`, `gate`).

May import: `analysis`, `results`, `machine`, `protocol`, `errors`. Its pytest processes import
the benchmarks (`benchmarks/`), which import the case's process; the gate itself does not."""

#: Fresh pytest processes per benchmark by default: 36 benchmarks take ~10 s a process on a
#: 2-core VM once the export is cached, so 10 fit the 5-minute budget with room for a slower
#: machine (docs/measurements.md, "The CI gate").
DEFAULT_PROCESSES = 10
#: Rounds with ``--base``: each is a process of the base and one of the code under test, so 8
#: rounds are 16 processes, what fits the 5-minute budget (docs/measurements.md).
DEFAULT_ROUNDS_WITH_BASE = 8
#: Seconds a pytest process may run before it is killed (its benchmarks then say so).
DEFAULT_TIMEOUT_S = 1800.0
#: The environment variable that gives a gate's pytest processes one cache folder per version:
#: archbench's cache folder, the one the suites keep their data in (`suites.digits.CACHE_ENV`,
#: not imported here: it would import torch into the gate) and the benchmarks their ONNX
#: exports (keyed by the model's weights and the exporter's versions). Shared, only the first
#: process of a version exports: an export is set-up, not what the benchmarks time, and it was
#: half of each process's time. An environment variable, not an option, because a base
#: checkout from before it would refuse an unknown option; there it is simply not read.
CACHE_ENV = "ARCHBENCH_CACHE_DIR"
