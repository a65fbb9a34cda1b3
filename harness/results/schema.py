"""The results table's schema: every column, its meaning and unit, and its type.

One row per case. Units are in the column names. `to_frame` is the one place that turns row
dicts into the typed table, so every writer and reader agrees on types and on NA (never 0) for
what was not measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

STATUSES = ("ok", "error", "timeout", "crashed", "skipped", "oom")

#: Every column of the results table, in order, with its meaning. Units are in the names.
SCHEMA: dict[str, str] = {
    # identifiers
    "run_id": "the sweep this row belongs to",
    "case_id": "suite-size-backend-phase-scenario-bsN, unique within a run",
    "suite": "architecture family (cnn, rnn, transformer or a user suite)",
    "size": "named size of the suite (tiny, small, medium, large)",
    "backend": "backend name as listed by `archbench list`",
    "device": "cpu or cuda",
    "precision": "numeric precision the backend ran in (fp32, bf16, fp16, int8)",
    "phase": "train (forward, loss, backward, optimizer step) or infer (forward only)",
    "scenario": "what the number answers: latency (one step at a time, synchronised), "
    "throughput (pipelined: one synchronisation per block of steps), batch-sweep, or under "
    "MLPerf LoadGen's load: server, single-stream, multi-stream, offline",
    "batch_size": "samples per iteration",
    "hardware": "the kind of node the case ran on, a case dimension with --per-hardware "
    "(the matrix once per kind of node in a Ray cluster; empty otherwise)",
    # model facts
    "params": "trainable parameters of the model",
    "flops_per_sample": "forward FLOPs per sample (torch.utils.flop_counter)",
    # outcome
    "status": "ok, error, timeout, crashed, skipped or oom (the case's batch did not fit, an "
    "allocation failed, or the process was killed at its memory limit)",
    "reason": "one line saying why the case did not run or did not finish (empty when ok)",
    # timing statistics, milliseconds per iteration (harness/results/case_result.py)
    "processes": "fresh processes that timed the case (its number comes from their spread)",
    "n": "timed iterations, all processes together",
    "median_ms": "the case's typical iteration time: with several processes the centre "
    "(geometric mean) of the per-process medians, with one process its median",
    "mean_ms": "mean of every timed iteration (all processes pooled)",
    "std_ms": "sample standard deviation of every timed iteration",
    "min_ms": "fastest iteration",
    "max_ms": "slowest iteration",
    "iqr_ms": "interquartile range (p75 - p25) of every timed iteration",
    "p90_ms": "90th percentile of every timed iteration",
    "p99_ms": "99th percentile of every timed iteration",
    "ci_low_ms": "lower bound of the interval of median_ms: between processes (Student t on "
    "the log medians) with several, the order-statistic interval of one process's iterations "
    "with one (which says nothing of the next process)",
    "ci_high_ms": "upper bound of that interval (NaN where too few samples give none)",
    "ci_level": "confidence level of that interval (0.95 between processes, 0.99 within one)",
    "between_cv": "spread of the per-process medians (std of their logs, ~ coefficient of "
    "variation): how much a re-run may differ; NaN with one process",
    "ci_rel_half_width": "how precisely median_ms is known: the interval's half-width as a "
    "share of it ((ci_high_ms - ci_low_ms) / 2 median_ms; 0.05: +-5%); NaN with one process",
    "ci_target": "the sweep's precision target (--precision), the same share",
    "ci_met": "True when ci_rel_half_width is within ci_target",
    "ci_first_stage": "a run with a precision budget: the first rounds' processes, from whose "
    "spread the case's count was planned; its interval (and compare's test) take their t "
    "quantile at these degrees of freedom (harness/measure/precision.py); NA without a budget",
    "ci_note": "why a case short of its target got no more processes (no budget, the budget "
    "spent, the most processes a case gets), or why it has no interval",
    "within_rel_iqr": "spread of the iterations within a process: IQR / median, median over "
    "processes",
    "noisy": "True when within_rel_iqr or between_cv exceeds 10%",
    "block": "throughput scenario: steps per timed block (one synchronisation per block)",
    "synced_ms": "throughput scenario: one step's time synchronised on its own (the latency "
    "protocol at the same batch, from the warm-up)",
    "pipelining_gain": "synced_ms / median_ms: how much faster the pipelined loop runs (the "
    "launch overhead saved; ~1 on the CPU)",
    "knee_batch": "batch-sweep: the smallest batch within 10% of the best throughput measured",
    "max_batch": "batch-sweep: the largest batch that fits in device memory (CUDA; NaN "
    "where not searched)",
    "max_batch_oom": "batch-sweep: the smallest batch found not to fit (NaN where none was): "
    "the limit lies between max_batch and this, bracketed to 1/16 of max_batch",
    "max_batch_note": "batch-sweep: why the bracket is wider than 1/16 (the search's time "
    "budget ran out, or it reached its cap); empty when it is not",
    # serving under load (harness/scenarios/serving.py, MLPerf LoadGen)
    "serving_metric": "serving scenarios: what median_ms is for this row (1000 / the peak rate; "
    "LoadGen's p99 at a fixed rate; each query's latency; the time from one step's end to "
    "the next's at the largest batch)",
    "serving_max_batch": "serving: the dynamic batcher's largest batch (the case's batch size)",
    "serving_max_wait_ms": "serving: how long a batch waited at most for more requests",
    "serving_buckets": "serving: the batch sizes the backend was bound for; a batch is padded "
    "to the smallest that holds it",
    "serving_in_flight": "serving: batches launched before the oldest has finished (2 where "
    "the backend's steps run on a device queue, 1 where a step has finished when it returns)",
    "serving_in_flight_note": "serving: why serving_in_flight is less than --in-flight asked",
    "step1_ms": "serving: a batch-1 step, synchronised (median of a short timing)",
    "step_max_ms": "serving: a step at the largest batch, synchronised",
    "slo_ms": "server: the p99 latency target of the peak search",
    "slo_source": "server: where slo_ms came from (--slo-ms, or the default rule and its step)",
    "server_qps": "server at a fixed rate (--server-qps): the arrival rate, queries/s",
    "peak_qps": "server: the highest arrival rate whose p99 met slo_ms (centre over processes, "
    "queries/s; one sample a query)",
    "peak_ci_low_qps": "server: lower bound of the between-process interval of peak_qps",
    "peak_ci_high_qps": "server: upper bound of that interval",
    "peak_missed_qps": "server: the lowest rate above the peak that missed the target (the "
    "first process's bracket; NaN where none did)",
    "peak_points": "server: rates the first process's search tried",
    "peak_search_s": "server: seconds the first process's search took",
    "peak_note": "server: why the bracket is not within 5% (budget, ceiling, no rate met); "
    "empty when it is",
    "loadgen_p50_ms": "LoadGen's median query latency, from each query's scheduled time (at the "
    "peak, or the scenario's one test; first process)",
    "loadgen_p90_ms": "LoadGen's 90th percentile of query latency",
    "loadgen_p99_ms": "LoadGen's 99th percentile of query latency",
    "loadgen_p999_ms": "LoadGen's 99.9th percentile of query latency",
    "loadgen_valid": "LoadGen's verdict on the test: VALID (True) when its minimum duration and "
    "query count were met and, for server, its early-stopping p99 estimate met the target",
    "loadgen_early_stopping": "LoadGen's early-stopping verdict, one line",
    "loadgen_log_dir": "LoadGen's summary and detail logs of the first process, one folder per "
    "load point, relative to the run folder",
    "achieved_qps": "queries completed per second in that test (LoadGen)",
    "loadgen_samples_per_s": "samples per second LoadGen reports for that test",
    "serve_p50_ms": "archbench's median of the same requests, from LoadGen's call to issue "
    "each (the batcher's clock); agrees with loadgen_p50_ms when LoadGen keeps its schedule",
    "serve_p90_ms": "archbench's 90th percentile of those requests",
    "serve_p99_ms": "archbench's 99th percentile of those requests",
    "serve_p999_ms": "archbench's 99.9th percentile of those requests",
    "queue_p50_ms": "serving: median wait of a request before the step that served it started",
    "queue_p99_ms": "serving: 99th percentile of that wait",
    "service_p50_ms": "serving: median time of the step that served a request",
    "mean_batch": "serving: mean requests per step",
    "padded_share": "serving: share of the samples run that were padding (batch to bucket)",
    "requests": "serving: requests served in that test",
    "throughput_sps": "batch_size / median iteration time; on CUDA every iteration ends in a "
    "device sync, so this is unpipelined throughput (launch latency included)",
    "timed_s": "seconds spent inside timed iterations",
    "warmup_iters": "untimed warm-up iterations",
    "warmup_s": "seconds spent warming up",
    "stop_reason": "why each process stopped sampling: converged (IQR within target) or t_max",
    # what else the machine did during the timed region (harness/measure/contention.py)
    "other_cpu_pct": "CPU time other processes used while timing, % of all the CPUs' time",
    "steal_pct": "CPU time the hypervisor gave to other VMs while timing, % of all CPU time",
    "load_avg_1m": "1-minute load average at the end of the timed region (includes the case)",
    "contention_note": "why a number may be slow or noisy: other processes, steal, or the case "
    "itself on a quiet machine (empty when quiet and not noisy)",
    # cold start, kept out of the steady-state numbers above
    "import_s": "seconds from the start of the case's (first) process to the start of its case: "
    "the interpreter and its imports (repeats: in the case file)",
    "startup_s": "seconds from the start of the case's (first) process to its first warm-up "
    "iteration: imports, data, weights, preparation, the cold call (repeats: in the case file)",
    "cold_call_s": "binding the first batch and its first call: export, session creation, "
    "compilation, lazy initialisation and allocation (first_call_s: the call alone)",
    "first_iter_ms": "the second call: first latency after the cold call",
    "compile_s": "torch.compile time (the cold call of a compiled model)",
    # what shipping costs (the deployment backends: ONNX Runtime, OpenVINO, AOTInductor)
    "export_s": "time to produce the artifact a user would ship: ONNX export (and its fp16/int8 "
    "derivation), OpenVINO conversion, torch.export + AOTInductor compile and package (0 when "
    "it came from the artifact cache)",
    "export_cached": "True when the artifact came from the artifact cache",
    "artifact_bytes": "bytes on disk of the artifact the runtime loaded: the ONNX file, the "
    "OpenVINO IR (.xml + .bin), the AOTInductor .pt2 package",
    "load_s": "loading the artifact until it can be called: ORT session creation, OpenVINO "
    "read + compile_model, aoti_load_package (median over the case's processes)",
    "first_call_s": "the step's first call after binding a batch (median over the processes)",
    "artifact_source": "what the artifact was built from (OpenVINO: the ONNX file)",
    "dynamic_batch": "True when the artifact takes any batch size; False: built for the "
    "case's batch, one artifact per batch size (batch_note says why)",
    "batch_note": "why the batch of an artifact was fixed (the exporter's reason)",
    "aoti_runners": "AOTInductor: model instances the package was loaded with (a call is "
    "launched only on an instance whose last call has finished)",
    "ov_hint": "OpenVINO's PERFORMANCE_HINT, matched to the scenario (LATENCY or THROUGHPUT)",
    "ov_streams": "OpenVINO's NUM_STREAMS as compiled for the hint",
    "ov_requests": "infer requests kept in flight (OPTIMAL_NUMBER_OF_INFER_REQUESTS)",
    "ov_threads": "OpenVINO's INFERENCE_NUM_THREADS (the case's threads)",
    "ov_precisions": "the precision OpenVINO ran each layer in, as 'precision:layers' of its "
    "runtime graph, e.g. 'bf16:63 f32:24 i32:38'",
    "ov_kernels": "the kernel ISAs OpenVINO chose, as 'isa:layers' of the runtime graph's "
    "primitive types (e.g. 'avx2:13 avx512:5'; 'ref': reference C++ code)",
    "quantized_ops": "int8: the integer ops of the quantised graph, e.g. 'ConvInteger:2'",
    "quantization": "int8: how the file was quantised (weights per channel/tensor, 8- or 7-bit "
    "reduce_range, and why for this CPU)",
    "float_weight_ops": "int8: weighted ops quantize_dynamic left in float, e.g. 'LSTM:1' "
    "(empty: everything was quantised)",
    "graph_breaks": "torch.compile graph breaks, including frames dynamo could not trace at all",
    "compiled_graphs": "graphs torch.compile compiled (0: nothing was compiled, the model ran "
    "in eager)",
    "recompiles": "torch.compile recompilations and CUDA graph re-recordings beyond the first "
    "compile (a batch sweep's new batch sizes count)",
    # memory
    "peak_rss_mb": "peak resident memory of the case's process (kernel high-water mark) from "
    "the model's creation through preparation and the timed region",
    "rss_increase_mb": "peak_rss_mb minus the process's baseline before the model was built "
    "(NaN where the kernel would not reset its high-water mark)",
    "cuda_peak_allocated_mb": "torch allocator peak allocated during the timed region (for ORT "
    "only its IO-binding buffers: see device_mem_used_mb)",
    "cuda_peak_reserved_mb": "torch allocator peak reserved during the timed region",
    "device_mem_used_mb": "GPU memory NVML attributes to this process just after the timed "
    "region (sees ORT's allocations too; NaN where the driver lists no per-process usage)",
    # accuracy
    "accuracy": "held-out task accuracy (train: after the training budget; infer: trained weights "
    "evaluated through this backend)",
    "accuracy_note": "why accuracy is empty (e.g. 'no task': a suite with declared inputs and "
    "no data); empty when there is an accuracy",
    "weights": "the weights an infer case ran: 'trained' (the reference training for the "
    "budget) or 'as built' (what the suite's build returned, untouched)",
    "train_steps": "training budget in optimizer steps (train phase and the weights used by infer)",
    "final_loss": "mean training loss over the last 10% of the budget",
    "parity_max_abs_err": "max |out - ref| against an fp64 reference on a fixed held-out batch",
    "parity_rel_err": "||out - ref|| / ||ref||",
    "parity_top1_agree": "fraction of that batch where the backend's top-1 equals the reference's",
    "parity_tol": "relative-error tolerance for this precision",
    "parity_ok": "parity_rel_err <= parity_tol",
    # profile (`archbench run --profile`; harness/profiling/), after the timed region
    "profile_steps": "steps in the profiled window (after its own warm-up)",
    "profile_ms": "median wall time of one profiled step, device synchronised",
    "profile_overhead": "profile_ms / the unprofiled step synchronised as profiled ones are "
    "(median_ms; synced_ms in pipelined scenarios): how much the profiler slowed a step (the "
    "report flags above 1.25)",
    "profile_coverage": "sum of the ops' self time per step / profile_ms: how much of the step "
    "the op table explains (device time on CUDA; the report flags below 0.8)",
    "profile_error": "why the profile failed (the timed result stands; empty when it worked)",
    "trace_file": "the case's gzipped trace, relative to the run folder (opens in "
    "ui.perfetto.dev)",
    "trace_kb": "size of that trace file, KiB",
    "step_flops": "FLOPs of one step at this batch (FlopCounterMode; training: forward and "
    "backward)",
    "step_bytes": "bytes of one step: parameters, input and every tensor written once (the "
    "estimate of docs/profiling.md)",
    "arithmetic_intensity": "step_flops / step_bytes, FLOPs per byte",
    "achieved_flops": "step_flops / median step time, FLOP/s",
    "pct_of_peak": "achieved_flops as % of ceiling_flops (MFU; NaN where the precision has no "
    "measured ceiling)",
    "ceiling_flops": "measured matmul peak of the case's precision on its device, FLOP/s",
    "ceiling_bytes_s": "measured memory bandwidth of the case's device (copy), bytes/s",
    "ceiling_note": "how the ceilings were measured (sizes, threads)",
    # settings that shape the numbers
    "torch_threads": "torch intra-op threads (set explicitly)",
    "torch_interop_threads": "torch inter-op threads (set explicitly)",
    "ort_threads": "ONNX Runtime intra-op threads (matched to torch's)",
    "cudnn_benchmark": "torch.backends.cudnn.benchmark during the case",
    "tf32_matmul": "torch.backends.cuda.matmul.allow_tf32 during the case",
    "tf32_cudnn": "torch.backends.cudnn.allow_tf32 during the case",
    "precision_emulated": "True when the hardware has no native support for the precision and "
    "it ran emulated (bf16 on a CPU without bf16 instructions)",
    "precision_note": "why the precision was emulated (empty when native)",
    "seed": "seed of model initialisation, data split and synthetic inputs",
    "executor": "what ran the case's processes: local (this machine, one at a time) or ray",
    "cases_per_node": "cases that ran at once on the node, sharing its CPUs (1: the node's "
    "CPUs were the case's alone; --cases-per-node)",
    "omp_num_threads": "OMP_NUM_THREADS of the case's process (the Ray executor sets it to "
    "the threads the case reserved; local: the sweep's own, empty when unset)",
    "wall_s": "wall time of the whole case, process start to finish",
    "memory_limit_gb": "host memory one process of the case could use (--max-memory; default "
    "80% of its machine's memory divided among the cases that ran on it at once); past it, the "
    "case is an oom row",
    "memory_limit_by": "how that limit was enforced: cgroup-v2 (a cgroup's memory.max, the "
    "process tree's resident memory), rlimit-data (RLIMIT_DATA: the process's private "
    "writable memory, asked for), or none and why",
    "cluster_auth": "the Ray executor: whether the cluster turned away a client with a random "
    "token (token: Ray's token authentication is on; none: anyone who can reach its port may "
    "run code on it; unknown: the probe failed); empty for the local executor",
    "retries": "the Ray executor: tries of the case's processes that the cluster lost (a node "
    "died, Ray's memory monitor, a lost result) and that ran again on another node "
    "(--max-retries); NaN when none was lost",
    "lost_nodes": "why those tries were lost, and on which node, in order",
    # energy (harness/measure/energy.py), measured where the hardware counts it
    "energy_source": "what counted the energy: nvml-counter (the GPU's cumulative counter), "
    "nvml-power (its power readings, integrated), rapl (the CPU's package and DRAM counters), "
    "with the domains; empty when nothing could",
    "energy_note": "why energy is empty (a VM without RAPL, no permission, no counter) or what "
    "makes it approximate",
    "idle_w": "power with the device idle, measured before the case's energy region, watts",
    "avg_w": "average power over the energy region (the step run back to back), watts",
    "energy_j_per_sample": "joules per sample over that region, idle power included "
    "(the centre over processes)",
    "energy_ci_low_j_per_sample": "lower bound of the between-process 95% interval of "
    "energy_j_per_sample (NaN with one process)",
    "energy_ci_high_j_per_sample": "upper bound of that interval",
    "energy_net_j_per_sample": "joules per sample above the idle power (median over processes)",
    "energy_window_s": "length of the energy region, long enough for many counter updates",
    "energy_update_ms": "the counter's update period observed before the region",
    # cost (harness/results/cost.py)
    "usd_per_hour": "the price of the machine that ran the case, dollars an hour (--price, "
    "--prices; of its hardware kind with --per-hardware); NaN when none was given",
    "usd_per_million_samples": "dollars per million samples at the case's throughput: "
    "usd_per_hour / cases_per_node / 3600 * 1e6 / throughput_sps (the machine kept busy with "
    "this case)",
    # environment
    "hostname": "machine name",
    "node": "the Ray node that ran the case's first process (node id prefix @ address); "
    "empty for the local executor",
    "cpu_model": "CPU model string",
    "cpu_cores": "logical CPUs available to the process",
    "process_controls": "what places the case's threads and memory, as its process saw it: CPU "
    "affinity, ASLR, transparent huge pages, frequency governor, and the OMP_*, allocator and "
    "ISA-cap variables that were set (harness/machine/environment.py)",
    "cpu_isa": "kernel set ATen dispatches to (AVX512, AVX2, ...; torch.backends.cpu)",
    "cpu_flags": "the CPU's flags that decide native bf16/int8 (avx512f, avx512_bf16, amx_bf16, "
    "avx512_vnni, avx_vnni, ...), as /proc/cpuinfo lists them",
    "gpu_name": "CUDA device name (empty without CUDA)",
    "cuda_version": "CUDA version torch was built with (empty for CPU builds)",
    "python_version": "Python version",
    "torch_version": "torch version",
    "onnxruntime_version": "onnxruntime version",
    "openvino_version": "openvino version (empty: not installed)",
    "archbench_commit": "git commit of the archbench checkout (with -dirty when modified)",
    "timestamp": "UTC time the case finished, ISO 8601",
}

COLUMNS = list(SCHEMA)

_INT_COLUMNS = {"artifact_bytes", "ov_streams", "ov_requests", "ov_threads", "batch_size",
                "params", "processes", "n", "block", "knee_batch", "max_batch",
                "max_batch_oom", "warmup_iters", "train_steps", "graph_breaks",
                "compiled_graphs", "recompiles",
                "torch_threads", "torch_interop_threads", "ort_threads", "seed", "cpu_cores",
                "profile_steps", "cases_per_node", "serving_max_batch", "serving_in_flight",
                "aoti_runners", "peak_points",
                "requests", "retries", "ci_first_stage"}
_FLOAT_COLUMNS = {"synced_ms", "pipelining_gain", "flops_per_sample", "median_ms", "mean_ms",
                  "std_ms", "min_ms", "max_ms",
                  "other_cpu_pct", "steal_pct", "load_avg_1m", "iqr_ms", "p90_ms", "p99_ms",
                  "ci_low_ms", "ci_high_ms", "ci_level", "between_cv", "within_rel_iqr",
                  "ci_rel_half_width", "ci_target", "throughput_sps", "timed_s", "warmup_s",
                  "import_s", "startup_s", "cold_call_s", "first_iter_ms",
                  "compile_s", "export_s", "load_s", "first_call_s", "peak_rss_mb",
                  "rss_increase_mb", "cuda_peak_allocated_mb", "cuda_peak_reserved_mb",
                  "device_mem_used_mb", "accuracy", "final_loss", "parity_max_abs_err",
                  "parity_rel_err", "parity_top1_agree", "parity_tol", "wall_s",
                  "profile_ms", "profile_overhead", "profile_coverage", "trace_kb", "step_flops",
                  "step_bytes", "arithmetic_intensity", "achieved_flops", "pct_of_peak",
                  "ceiling_flops", "ceiling_bytes_s", "serving_max_wait_ms", "step1_ms",
                  "step_max_ms", "slo_ms", "server_qps", "peak_qps", "peak_ci_low_qps",
                  "peak_ci_high_qps", "peak_missed_qps", "peak_search_s", "loadgen_p50_ms",
                  "loadgen_p90_ms", "loadgen_p99_ms", "loadgen_p999_ms", "achieved_qps",
                  "loadgen_samples_per_s", "serve_p50_ms", "serve_p90_ms", "serve_p99_ms",
                  "serve_p999_ms", "queue_p50_ms", "queue_p99_ms", "service_p50_ms",
                  "mean_batch", "padded_share", "memory_limit_gb", "usd_per_hour",
                  "usd_per_million_samples", "idle_w", "avg_w", "energy_j_per_sample",
                  "energy_net_j_per_sample", "energy_window_s", "energy_update_ms",
                  "energy_ci_low_j_per_sample", "energy_ci_high_j_per_sample"}
_BOOL_COLUMNS = {"noisy", "ci_met", "export_cached", "dynamic_batch", "parity_ok",
                 "cudnn_benchmark", "tf32_matmul", "tf32_cudnn", "precision_emulated",
                 "loadgen_valid"}


def to_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Build the results table from row dicts: every schema column present, in order, typed.

    Missing values are NA, never 0: a skipped case has no median, and a report must not draw
    one. Extra keys are rejected so that a typo in a backend cannot invent a silent column.
    """
    rows = [_current(row) for row in rows]
    for row in rows:
        unknown = set(row) - set(SCHEMA)
        if unknown:
            raise ValueError(f"unknown result columns: {sorted(unknown)}")
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in COLUMNS:
        if column in _INT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
        elif column in _FLOAT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        elif column in _BOOL_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].astype("string")
    return frame


def _current(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """A row written before ORT's cold-start columns became every deployment backend's
    (`session_s`, `onnx_file_mb`), under today's names, so that old runs stay readable."""
    if "session_s" not in row and "onnx_file_mb" not in row:
        return row
    row = dict(row)
    if "session_s" in row:
        row["load_s"] = row.pop("session_s")
    size = row.pop("onnx_file_mb", None)
    if isinstance(size, (int, float)) and size == size:
        row["artifact_bytes"] = round(size * 2**20)
    return row


SAMPLE_COLUMNS = ["run_id", "case_id", "metric", "process", "idx", "value"]


def samples_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Long-format raw samples: one row per (case_id, metric, process, idx).

    Metrics: ``iter_ms`` (every timed iteration of every process, in order; `process` is the
    0-based index of the fresh process that timed it; in the throughput scenario one sample
    is a block's time per step), ``train_loss`` (the loss of every step of the training
    budget, i.e. the loss curve, from the first process), and for batch sweeps each process's
    curve: ``sweep_batch``, ``sweep_ms`` (pipelined step time) and ``sweep_p50_ms``
    (synchronised step time) at each batch size, in order. A record
    without a process (a table written before processes were kept) is process 0.
    """
    frame = pd.DataFrame(list(records), columns=SAMPLE_COLUMNS)
    frame["process"] = frame["process"].fillna(0)
    return frame.astype({"run_id": "string", "case_id": "string", "metric": "string",
                         "process": "int64", "idx": "int64", "value": "float64"})


#: The op table (`ops.parquet`): one row per (case, op) of a profiled case
#: (harness/profiling/op_table.py).
OPS_SCHEMA: dict[str, str] = {
    "run_id": "the sweep",
    "case_id": "the case",
    "op": "op, kernel or ONNX Runtime op type, as the profiler names it",
    "category": "its category (harness/profiling/categories.py; 'other' when unmapped)",
    "device": "where its self time was spent: cpu (ops, dispatch) or cuda (kernels)",
    "provider": "ONNX Runtime execution provider (empty for torch)",
    "calls_per_step": "calls per profiled step",
    "self_ms": "self time per step, ms (nested ops' time excluded)",
    "share": "self_ms / the profiled step time; a case's shares on its device sum to its "
    "profile_coverage",
    "input_shapes": "input shapes of its first call (torch; ORT: input types and shapes)",
    "flops": "FLOPs per step where known (FlopCounterMode, given to the op holding the time)",
    "achieved_flops": "flops / self time, FLOP/s",
}
_OPS_FLOAT = {"calls_per_step", "self_ms", "share", "flops", "achieved_flops"}


def ops_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The typed op table from row dicts (every column, in order; unknown keys rejected)."""
    records = list(records)
    for record in records:
        unknown = set(record) - set(OPS_SCHEMA)
        if unknown:
            raise ValueError(f"unknown op-table columns: {sorted(unknown)}")
    frame = pd.DataFrame(records, columns=list(OPS_SCHEMA))
    return frame.astype({column: "float64" if column in _OPS_FLOAT else "string"
                         for column in OPS_SCHEMA})
