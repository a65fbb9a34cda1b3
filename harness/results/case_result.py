"""One case's result: what each of its processes measured, and the row they make together.

A case is timed in P fresh processes, interleaved with the other cases in rounds (see
`harness.sweep.run`). Each process hands back a `ProcessResult`; the `CaseResult` keeps them all
(the case file stores every process's row and samples, so nothing measured is lost and the row
can be derived again) and derives the case's row:

* **Facts, accuracy, parity, cold start** come from the first process, the only one that
  measures them (`harness.case.process`); except what a deployment's fresh process pays to
  load its artifact and make the first call (`load_s`, `first_call_s`), which every process
  pays again: their median over the processes (the first may have built the artifact just
  before, with its files still in the page cache).
* **The number** comes from the process level: each process's median iteration time is one
  observation of what a fresh process gives, and `harness.measure.stats.process_level` turns
  them into the row's `median_ms` (their centre), its interval (`ci_low_ms`, `ci_high_ms`,
  `ci_level`) and the spread between processes (`between_cv`). With one process, the row is
  today's single-process row: the median of its iterations and their order-statistic interval,
  which covers that process only.
* **The distribution** (mean, std, min, max, IQR, p90, p99, n) is of every timed iteration of
  every process, pooled: the latency a user sees across restarts.
* **Noise and contention**: `noisy` when the iterations of a process spread (median relative
  IQR over processes) or the processes disagree (`between_cv`) by more than 10%; the machine's
  other activity is the worst process's, since that is the one that can have skewed the number.
* **Serving** (the server scenario): its number is 1000 / the peak rate, one per process, so
  the peak's interval is the reciprocal of the number's; the distribution columns are of the
  requests served (`harness.scenarios.serving`).
* **Retries** (the Ray executor): the tries its cluster lost and ran again, added up over the
  processes (`retries`), and why each was lost, per process (`lost_nodes`).
* **Energy** (where the hardware counts it): joules per sample per process, their centre and
  between-process interval, as the time's.
* **Cost** (a sweep given prices): dollars per million samples at the row's throughput
  (`harness.results.cost`).
* **Precision** (`harness.measure.precision`): the interval's half-width as a share of the
  centre (`ci_rel_half_width`), whether it is within the sweep's target (`ci_target`,
  `ci_met`), and, when it is not, why the sweep gave the case no more processes (`ci_note`:
  set by the sweep when it stops adding them, kept in the case file).
* **Status**: ok when every process finished; otherwise the first failure, prefixed with which
  process it was (a case that runs once and crashes the next time is flaky, and says so), with
  the timing of the processes that did finish kept in the row and the case file.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.measure.contention import Contention, note
from harness.measure.precision import precision
from harness.measure.stats import noisy as is_noisy
from harness.measure.stats import process_level, summarize
from harness.protocol import ProcessResult
from harness.results.cost import usd_per_million_samples

#: Per-process measurements whose worst (largest) value is the case's.
WORST_OF = ("peak_rss_mb", "rss_increase_mb", "cuda_peak_allocated_mb", "cuda_peak_reserved_mb",
            "device_mem_used_mb", "other_cpu_pct", "steal_pct", "load_avg_1m")
#: Per-process amounts the case's row adds up.
SUM_OF = ("timed_s", "warmup_s", "warmup_iters", "wall_s", "retries")
#: Per-process cold-start readings whose median over the processes is the case's.
MEDIAN_OF = ("load_s", "first_call_s")
#: Per-process notes the case's row lists, each process's that has one, in order.
JOINED = ("lost_nodes",)


@dataclass
class CaseResult:
    """Every process of one case so far, the number planned, and the row they give."""

    identity: dict[str, Any]
    planned: int
    processes: list[ProcessResult] = field(default_factory=list)
    #: why the sweep stopped adding processes short of the precision target ("" if it did not)
    ci_note: str = ""

    @property
    def failed(self) -> ProcessResult | None:
        return next((p for p in self.processes if not p.ok), None)

    @property
    def finished(self) -> bool:
        """Every planned process ran, or one did not finish (no further process runs then)."""
        return self.failed is not None or len(self.processes) >= self.planned

    def next_process(self) -> int | None:
        """The index of the process to run next, or None when the case is finished."""
        return None if self.finished else len(self.processes)

    def samples(self) -> dict[str, list[list[float]]]:
        """Raw samples per metric, one list per process (index = process)."""
        metrics = dict.fromkeys(m for p in self.processes for m in p.samples)
        return {metric: [p.samples.get(metric, []) for p in self.processes]
                for metric in metrics}

    def row(self) -> dict[str, Any]:
        """The case's row (see the module docstring for where each part comes from)."""
        row = dict(self.identity)
        if not self.processes:
            return row
        first = self.processes[0]
        row.update(first.row)
        ok = [p for p in self.processes if p.ok and p.samples.get("iter_ms")]
        if ok:
            row.update(_timing(ok, row["batch_size"], self.identity.get("ci_first_stage")))
            row.update(_precision(row, self.ci_note))
            row.update(_pipelining(ok, row["median_ms"]))
            row.update(_serving(ok, row))
            row["usd_per_million_samples"] = usd_per_million_samples(row)
            row.update(_energy(ok))
        for name in WORST_OF:
            values = [p.row[name] for p in self.processes if _number(p.row.get(name))]
            if values:
                row[name] = max(values)
        for name in MEDIAN_OF:
            values = [p.row[name] for p in self.processes if _number(p.row.get(name))]
            if values:
                row[name] = float(np.median(values))
        for name in SUM_OF:
            values = [p.wall_s if name == "wall_s" else p.row.get(name)
                      for p in self.processes]
            values = [v for v in values if _number(v)]
            if values:
                row[name] = sum(values)
        for name in JOINED:
            notes = [f"process {p.process + 1}: {p.row[name]}" for p in self.processes
                     if p.row.get(name)]
            if notes:
                row[name] = "; ".join(notes)
        if ok:
            row["contention_note"] = _contention_note(row)
        failed = self.failed
        row["status"] = failed.status if failed else "ok"
        row["reason"] = "" if failed is None else (
            failed.reason if failed.process == 0 or self.planned == 1
            else f"process {failed.process + 1} of {self.planned}: {failed.reason}")
        return row

    def process_medians(self) -> list[float]:
        """The median of each finished process that makes the case's number, in order."""
        ok = [p for p in self.processes if p.ok and p.samples.get("iter_ms")]
        if not ok:
            return []
        return [float(np.median(p.samples["iter_ms"])) for p in _numbered(ok, 0)[0]]

    def ops(self) -> list[dict[str, Any]]:
        """The op table of the case: its profiled (first) process's, if any."""
        return next((p.ops for p in self.processes if p.ops), [])

    def to_json(self) -> dict[str, Any]:
        """The case file's content: the derived row, samples per process, the op table, and
        every process."""
        return {"row": self.row(), "samples": self.samples(), "ops": self.ops(),
                "planned": self.planned, "ci_note": self.ci_note,
                "processes": [{k: v for k, v in asdict(p).items() if k not in ("samples", "ops")}
                              for p in self.processes]}

    @classmethod
    def from_json(cls, record: dict[str, Any], identity: dict[str, Any]) -> CaseResult:
        """A case file back as a result; a file from before processes were kept (a flat list
        of samples per metric, no `processes`) is one process that gave the stored row."""
        samples = record.get("samples", {})
        if "processes" not in record:
            process = ProcessResult(0, record["row"].get("status", "ok"),
                                    record["row"].get("reason", ""),
                                    record["row"].get("wall_s", math.nan), dict(record["row"]),
                                    {m: list(v) for m, v in samples.items()})
            return cls(identity, 1, [process])
        processes = []
        for entry in record["processes"]:
            index = entry["process"]
            processes.append(ProcessResult(
                index, entry["status"], entry.get("reason", ""), entry.get("wall_s", math.nan),
                dict(entry.get("row", {})),
                {m: list(v[index]) for m, v in samples.items() if index < len(v)},
                list(record.get("ops", [])) if index == 0 else []))
        return cls(identity, int(record.get("planned", len(processes))), processes,
                   record.get("ci_note", ""))


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _numbered(ok: list[ProcessResult], batch_size: int) -> tuple[list[ProcessResult], int]:
    """The processes whose medians make the case's number, and the batch it is at.

    A batch sweep's number is its knee's (the first process's knee), from the full timed run
    at the knee of each process whose knee was the same batch: the curve's points are timed
    too briefly to publish, and one process's number must mean what several processes' do.
    """
    knee = ok[0].row.get("knee_batch")
    if knee is None:
        return ok, batch_size
    return [p for p in ok if p.row.get("knee_batch") == knee], int(knee)


def _timing(ok: list[ProcessResult], batch_size: int,
            first_stage: int | None) -> dict[str, Any]:
    """The timing columns of a case from its finished processes (module docstring); with a
    precision budget's `first_stage`, the interval at its degrees of freedom."""
    ok, batch_size = _numbered(ok, batch_size)
    medians = [float(np.median(p.samples["iter_ms"])) for p in ok]
    pooled = summarize([v for p in ok for v in p.samples["iter_ms"]])
    within = [summarize(p.samples["iter_ms"]).rel_iqr for p in ok]
    level = process_level(medians, first_stage=first_stage)
    if len(medians) == 1:  # one process: its own median and order-statistic interval
        center, low, high, ci_level = pooled.median, pooled.ci_low, pooled.ci_high, 0.99
    else:
        center, low, high, ci_level = level.center, level.ci_low, level.ci_high, level.level
    within_rel_iqr = float(np.median(within))
    return {"n": pooled.n, "processes": len(medians), "median_ms": center, "mean_ms": pooled.mean,
            "std_ms": pooled.std, "min_ms": pooled.min, "max_ms": pooled.max,
            "iqr_ms": pooled.iqr, "p90_ms": pooled.p90, "p99_ms": pooled.p99,
            "ci_low_ms": low, "ci_high_ms": high, "ci_level": ci_level,
            "between_cv": level.between_cv, "within_rel_iqr": within_rel_iqr,
            "noisy": is_noisy(within_rel_iqr, level.between_cv),
            "throughput_sps": batch_size / (center / 1e3),
            "stop_reason": ", ".join(p.row.get("stop_reason", "") for p in ok)}


def _precision(row: dict[str, Any], ci_note: str) -> dict[str, Any]:
    """How precisely the row's number is known against the sweep's target (module
    docstring); one process has no interval between processes, and says so."""
    reached = (precision(row["median_ms"], row["ci_low_ms"], row["ci_high_ms"])
               if row["processes"] > 1 else math.nan)
    target = row.get("ci_target")
    if math.isnan(reached):
        return {"ci_rel_half_width": reached,
                "ci_note": "one process: no interval between processes"}
    met = target is None or reached <= target
    return {"ci_rel_half_width": reached, **({} if target is None else {"ci_met": met}),
            **({} if met else {"ci_note": ci_note})}


def _energy(ok: list[ProcessResult]) -> dict[str, Any]:
    """Energy per sample as time is treated: one reading per process, their centre and
    between-process interval (`process_level`); the idle and average power and the net energy,
    which can be near zero or below it, as medians over the processes."""
    measured = [p.row for p in ok if _number(p.row.get("energy_j_per_sample"))]
    if not measured:
        return {}
    level = process_level([row["energy_j_per_sample"] for row in measured])
    columns = {"energy_j_per_sample": level.center, "energy_ci_low_j_per_sample": level.ci_low,
               "energy_ci_high_j_per_sample": level.ci_high}
    for name in ("energy_net_j_per_sample", "idle_w", "avg_w"):
        values = [row[name] for row in measured if _number(row.get(name))]
        columns[name] = float(np.median(values)) if values else math.nan
    return columns


def _pipelining(ok: list[ProcessResult], median_ms: float) -> dict[str, Any]:
    """Throughput cases: the synchronised step time (median over processes) and how much
    faster the pipelined number is."""
    synced = [p.row["synced_ms"] for p in ok if _number(p.row.get("synced_ms"))]
    if not synced:
        return {}
    value = float(np.median(synced))
    return {"synced_ms": value, "pipelining_gain": value / median_ms}


def _serving(ok: list[ProcessResult], row: dict[str, Any]) -> dict[str, Any]:
    """Server rows: the peak rate and its interval (the reciprocal of the row's number, which
    is 1000 / the peak: the log interval maps exactly), and the distribution columns of every
    request served at each process's peak or fixed rate, pooled (a process's number there is
    one value, whose spread says nothing of the requests)."""
    requests = [v for p in ok for v in p.samples.get("request_ms", [])]
    if not requests:
        return {}
    pooled = summarize(requests)
    columns: dict[str, Any] = {
        "n": pooled.n, "mean_ms": pooled.mean, "std_ms": pooled.std, "min_ms": pooled.min,
        "max_ms": pooled.max, "iqr_ms": pooled.iqr, "p90_ms": pooled.p90, "p99_ms": pooled.p99}
    if _number(row.get("peak_qps")):
        columns.update(peak_qps=1e3 / row["median_ms"], throughput_sps=1e3 / row["median_ms"],
                       peak_ci_low_qps=1e3 / row["ci_high_ms"],
                       peak_ci_high_qps=1e3 / row["ci_low_ms"])
    else:
        achieved = [p.row["achieved_qps"] for p in ok if _number(p.row.get("achieved_qps"))]
        columns["throughput_sps"] = float(np.median(achieved)) if achieved else math.nan
    return columns


def _contention_note(row: dict[str, Any]) -> str:
    """The note of the worst process's contention, for the case's own noise."""
    other, steal = row.get("other_cpu_pct"), row.get("steal_pct")
    contention = (Contention(other, steal, row.get("load_avg_1m", math.nan))
                  if _number(other) and _number(steal) else None)
    return note(contention, bool(row["noisy"]), row["within_rel_iqr"], row["between_cv"])
