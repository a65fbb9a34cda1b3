"""The machine: what it is and what it can do, read without measuring a model.

Owns: the environment a row records (`environment`: CPU, GPU, libraries, commit), the CPU's
instruction sets and the caps that restrict them (`cpu_features`), and the fingerprint that
says which runs are of the same kind of machine (`fingerprint`, for CI baselines), the commit
of the code a run measures and its place in git's history (`provenance`), and the
limit on a case process's share of its memory (`memory_limit`: set by the launcher and the
case's worker, read back as an `oom` row).

May import: `names`, `errors`, `protocol` and itself; nothing above. Everything else may
import it. The GPU is named through NVML, never torch, so that the driver holds no CUDA context.
"""
