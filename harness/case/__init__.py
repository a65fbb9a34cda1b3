"""The case's own process: what runs inside the fresh interpreter of one process of one case.

Owns: the entry point (`worker`: reads a `harness.protocol.WorkerSpec`, writes a
`harness.protocol.ProcessResult`), the lifeline that ends the process with its parent
(`lifeline`), the process itself (`process`: threads, data, weights, the scenario, accuracy
and parity), and the trained reference weights and training budget it uses (`weights`,
`training`).

May import: `protocol`, `cases` (the configuration), `scenarios`, `backends`, `profiling`,
`measure`, `model_io`, `results.storage` (atomic writes), `machine`, `suites`, `errors`. The
driver never imports this wing: it launches it (`python -m harness.case.worker`, from
`harness.executors.isolation`), so a case's torch, allocator and thread pools never enter the
sweep's process. The pytest-benchmark suite and `benchmarks/` import `process` on purpose: they
time cases in their own process.
"""
