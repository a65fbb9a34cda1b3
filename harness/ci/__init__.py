"""The CI gate (`archbench ci`): the pytest-benchmark suite in fresh processes (`processes`),
judged against a baseline of the same machine kind (`gate`)."""

#: Fresh pytest processes per benchmark by default: 36 benchmarks take ~25 s a process on a
#: 2-core VM, so 7 fit the 5-minute budget with room for a slower machine
#: (docs/measurements.md, "The CI gate").
DEFAULT_PROCESSES = 7
