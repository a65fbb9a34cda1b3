"""What runs case processes for a command: a sweep, an A/B experiment, the selftest.

Owns: the run folder, its manifest, resume and the record of each process as it arrives
(`run`), the A/B experiment of two variants alternating on one machine (`ab`), and the
selftest of this machine's noise (`selftest`: A/A and planted-change ab experiments, judged).

May import: `executors` (which never import this wing: they see a sweep through
`harness.executors.base.SweepView`), `analysis` (the verdicts), `results`, `cases`,
`protocol`, `profiling.roofline`, `machine`, `errors`. Imported by `cli` only, and by
`benchmarks/`.
"""
