"""Profiling: where a case spends its time, per op, and how close it comes to the machine.

- `categories.py`  the one table mapping op names (aten, inductor, CUDA kernels, ONNX Runtime
                   nodes) to categories; unmapped names go to "other" and are listed
- `torch_profile.py` the PyTorch backends' profiled window (torch.profiler)
- `ort_profile.py` ONNX Runtime's: a second, profiling session, and its JSON parsed
- `op_table.py`    the op table both produce (one row per case and op) and its honesty columns
- `step_cost.py`   FLOPs and bytes of one step (FlopCounterMode), for the roofline
- `ceilings.py`    the machine's measured ceilings: matmul FLOP/s and memory bandwidth
- `roofline.py`    achieved FLOP/s, % of peak, arithmetic intensity: pure arithmetic
- `traces.py`      trace files: gzipped, with HTA's rank metadata, and checked
- `case_profile.py` one case's profile, after its timed region (`harness.scenarios.base`)

Nothing here runs inside a timed region: the profiled window comes after the timing and the
peak-memory reading, so a run with `--profile` times exactly what a run without it does.

May import: `measure`, `model_io`, `machine`, `suites`, `errors`, and `results.storage` (a
trace is a file of the run folder, written atomically like every other). Never `backends` or
`scenarios`: a runner is seen through the `case_profile.Profilable` protocol.
"""
