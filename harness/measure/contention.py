"""What else happened on the machine while a case was timed: other processes, steal, load.

A noisy or slow row has two possible explanations that look alike in the samples: the case
varies by itself, or something else took the CPUs while it ran (another job on a shared CI
runner, a noisy neighbour on the VM's host). The second is measurable, so every row says it
instead of leaving it to guesswork:

* **other_cpu_pct**: CPU time the rest of the machine used during the timed region, as a share
  of all its CPUs' time: (busy time of all CPUs, from /proc/stat) minus (this process's own
  CPU time, every thread), over (elapsed time x CPUs). The sweep's parent process is counted
  as "other", but it sleeps in `wait` while a case runs.
* **steal_pct**: time the hypervisor gave this VM's CPUs to someone else (/proc/stat's steal),
  as a share of all CPU time; zero on bare metal.
* **load_avg_1m**: the kernel's one-minute load average at the end of the timed region. It
  includes the case's own threads and lags by design, so it is context, not a verdict.

The counters have the kernel's tick resolution (10 ms per CPU), so a timed region of a second
on 2 CPUs resolves about 0.5% of the CPUs. psutil reads them (Linux and other systems alike).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import psutil

#: Other processes using more than this share of the CPUs while timing make a row contended.
CONTENDED_OTHER_PCT = 10.0
#: Steal above this share of CPU time makes a row contended too.
CONTENDED_STEAL_PCT = 5.0


@dataclass(frozen=True)
class CpuSnapshot:
    """Cumulative CPU seconds: the machine's busy, steal and total time, and this process's."""

    busy_s: float
    steal_s: float
    total_s: float
    own_s: float

    @classmethod
    def now(cls) -> CpuSnapshot:
        times = psutil.cpu_times()
        # guest time is already counted in user (and guest_nice in nice) on Linux
        fields = {k: v for k, v in times._asdict().items() if k not in ("guest", "guest_nice")}
        idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
        total = sum(fields.values())
        own = psutil.Process().cpu_times()
        return cls(busy_s=total - idle - fields.get("steal", 0.0),
                   steal_s=fields.get("steal", 0.0), total_s=total,
                   own_s=own.user + own.system)


@dataclass(frozen=True)
class Contention:
    """The machine's other activity over one interval, in percent of all CPUs' time."""

    other_cpu_pct: float
    steal_pct: float
    load_avg_1m: float

    @property
    def contended(self) -> bool:
        return bool(self.other_cpu_pct > CONTENDED_OTHER_PCT
                    or self.steal_pct > CONTENDED_STEAL_PCT)

    def columns(self) -> dict[str, float]:
        return {"other_cpu_pct": self.other_cpu_pct, "steal_pct": self.steal_pct,
                "load_avg_1m": self.load_avg_1m}


def between(start: CpuSnapshot, end: CpuSnapshot, load_avg_1m: float) -> Contention:
    """Contention over the interval from `start` to `end` (pure: snapshots in)."""
    total = end.total_s - start.total_s
    if total <= 0:
        return Contention(math.nan, math.nan, load_avg_1m)
    others = (end.busy_s - start.busy_s) - (end.own_s - start.own_s)
    steal = end.steal_s - start.steal_s
    # rounded to what the 10 ms ticks resolve, so float round-off does not read as 1e-11 %
    return Contention(other_cpu_pct=round(100 * max(0.0, others) / total, 3),
                      steal_pct=round(100 * max(0.0, steal) / total, 3), load_avg_1m=load_avg_1m)


class ContentionMonitor:
    """Snapshots around a region: `start()` before it, `stop()` after; `result` then holds it."""

    def __init__(self) -> None:
        self._start: CpuSnapshot | None = None
        self.result: Contention | None = None

    def start(self) -> None:
        self._start = CpuSnapshot.now()

    def stop(self) -> None:
        if self._start is None:
            raise RuntimeError("ContentionMonitor.stop() before start()")
        self.result = between(self._start, CpuSnapshot.now(), os.getloadavg()[0])


def note(contention: Contention | None, noisy: bool, rel_iqr: float,
         between_cv: float = math.nan) -> str:
    """One line for the row: what the machine was doing, and whether that explains noise.

    `rel_iqr` is the iterations' spread within a process (IQR / median), `between_cv` the
    spread between fresh processes of the case (NaN with one process). Empty when the machine
    was quiet and the number is not noisy: nothing to explain.
    """
    if contention is None or math.isnan(contention.other_cpu_pct):
        return "noisy; the machine's other activity was not measured" if noisy else ""
    busy = (f"other processes used {contention.other_cpu_pct:.0f}% of the CPUs while timing"
            + (f", steal {contention.steal_pct:.0f}%" if contention.steal_pct >= 1 else ""))
    if contention.contended:
        return f"noisy: {busy}" if noisy else f"contended: {busy}"
    if not noisy:
        return ""
    spread = [f"IQR {rel_iqr:.0%} of the median"]
    if not math.isnan(between_cv):
        spread.append(f"fresh processes differ by {between_cv:.0%} (CV)")
    return f"noisy ({', '.join(spread)}) on a quiet machine ({busy}): the case varies by itself"


def run_warning(other_cpu_pct: list[float], steal_pct: list[float]) -> str | None:
    """The run-level warning for a summary or report, or None when every case ran quietly."""
    pairs = [(o, s) for o, s in zip(other_cpu_pct, steal_pct, strict=True)
             if not (math.isnan(o) or math.isnan(s))]
    contended = [(o, s) for o, s in pairs if o > CONTENDED_OTHER_PCT or s > CONTENDED_STEAL_PCT]
    if not contended:
        return None
    worst_other = max(o for o, _ in contended)
    worst_steal = max(s for _, s in contended)
    steal = f", steal up to {worst_steal:.0f}%" if worst_steal >= 1 else ""
    return (f"{len(contended)} of {len(pairs)} cases were timed under contention (other "
            f"processes used up to {worst_other:.0f}% of the CPUs{steal}); their times may "
            "be slower and noisier than this machine alone gives")
