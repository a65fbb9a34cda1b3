"""The CI gate (`archbench ci`): the pytest-benchmark suite in fresh processes (`processes`),
judged against a baseline of the same machine kind or a base version measured beside it
(`checkout`, `gate`).

May import: `analysis`, `results`, `machine`, `protocol`, `errors`. Its pytest processes import
the benchmarks (`benchmarks/`), which import the case's process; the gate itself does not."""

#: Fresh pytest processes per benchmark by default: 36 benchmarks take ~21 s a process on a
#: 2-core VM (146 to 158 s for the whole gate), so 7 fit the 5-minute budget with room for a
#: slower machine (docs/measurements.md, "The CI gate").
DEFAULT_PROCESSES = 7
#: Rounds with ``--base``: each is a process of the base and one of the code under test, so 5
#: rounds are 10 processes, the most that fit the 5-minute budget (docs/measurements.md).
DEFAULT_ROUNDS_WITH_BASE = 5
#: Seconds a pytest process may run before it is killed (its benchmarks then say so).
DEFAULT_TIMEOUT_S = 1800.0
