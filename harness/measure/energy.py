"""Energy per sample, read from counters the hardware keeps, never estimated from a TDP.

**Sources**, tried in this order for the case's device (`open_meter`), the first that works wins:

* ``cuda``: (1) NVML's cumulative energy counter, ``nvmlDeviceGetTotalEnergyConsumption``
  (millijoules since the driver loaded, Volta and later; the whole board, memory included). (2)
  Where that counter is missing, NVML's power reading (``nvmlDeviceGetPowerUsage``, milliwatts)
  sampled every `POWER_SAMPLE_S` by a background thread and integrated with the trapezoid rule.
  The driver may average that reading over its own window, so the row's note says it is an
  integral of readings, not a count.
* ``cpu``: (3) RAPL in the Linux powercap tree: each package domain ``intel-rapl:N`` (named
  ``package-N``, on Intel and on AMD alike) and its DRAM subdomain ``intel-rapl:N:M`` named
  ``dram``. The core (``core``) and graphics (``uncore``) subdomains are parts of the package,
  and ``psys`` (laptops) contains it, so adding any of them would count energy twice;
  ``intel-rapl-mmio:N`` is the same package read another way and is skipped too.
* Otherwise no meter, and the row says why (`no_energy_columns`): no powercap tree (a VM does not
  expose one), ``energy_uj`` readable by root only (Linux 5.10 and later, since CVE-2020-8694),
  NVML missing or failing.

**Wraps.** ``energy_uj`` climbs from 0 to ``max_energy_range_uj`` and starts again at 0, so a
reading below the previous one means one wrap: the energy between them is
``current + max_energy_range_uj - previous``. The true modulus is one energy unit (15-61 uJ)
above ``max_energy_range_uj``, since the kernel reports the largest value rather than the count,
so each wrap loses that one unit: nothing at this scale. The range is 2^32 units (about 262 kJ),
a wrap every ~9 minutes at 500 W, while the reads here are seconds apart: at most one wrap
between two reads.

**Update period.** A counter moves in steps: NVML's every 20-100 ms, RAPL's about every 1 ms.
`observe_update_period` polls it every `POLL_S` until it has changed `UPDATE_CHANGES` times (so
`UPDATE_CHANGES - 1` whole intervals; the first change comes at a random phase) or
`UPDATE_CAP_S` passes, and takes the median interval, so one late poll (the thread descheduled)
does not skew it. Polling at 1 ms resolves NVML's period to a few percent; RAPL's shows as
1-2 ms, which the window's floor makes irrelevant. A counter that changes less than twice in the
cap has an unknown period: the window is then `MAX_WINDOW_S` and the note says so.

**Window.** A reading reports the energy up to the counter's last update, so it lags the truth
by between 0 and one update's energy E_u = P x period. A difference of two readings is off by
the start's lag minus the end's, within +-E_u: over a window of N updates at most 1/N of the
window's energy, and with the reads at random phases the error's standard deviation is
E_u / sqrt(6) (difference of two uniform lags), 1/(N sqrt 6) of the energy. With
`UPDATES_PER_WINDOW` = 50 that is at most 2%, typically 0.8%. Hence window_s = max(
`MIN_WINDOW_S`, 50 x period), at most `MAX_WINDOW_S`: 1 s for RAPL (a thousand updates, 0.1%),
1-5 s for NVML.

**Idle baseline.** Right before the active region, with the device synchronised and nothing
queued, the meter is read over one window of the same length: idle_w = energy / duration, with
the same bound. It is the power of the device just after the case's warm-up, not of a device
asleep for minutes (a GPU lowers its clocks only seconds after work stops), which is the
baseline that "energy above idle" should subtract for a case that runs steadily.

**Active region.** ``sync()``, read the counter and the clock, run ``step()`` back to back,
``sync()`` after each block of steps, and stop at the first block boundary past window_s; then
read the clock and the counter, so the last thing before the final read is a ``sync()``. A block
starts as one step and grows (at most doubling per block, so one odd fast step cannot queue
seconds of work) to about `SYNC_EVERY_S` of work: the GPU stays fed between syncs, and the clock
at each boundary counts all the work queued before it.

* avg_w = active joules / active seconds
* energy_j_per_sample = active joules / (steps x samples_per_step)
* energy_net_j_per_sample = (active joules - idle_w x active seconds) / samples

`clock` and `sleep` are injectable, so tests drive all of this with a fake clock.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

Clock = Callable[[], float]

#: Where the kernel exposes RAPL.
POWERCAP = Path("/sys/class/powercap")
#: The sample metric of a process's energy reading: one value per process, compared and
#: trended as a process median of time is (`harness.analysis.compare`, `harness.history`).
ENERGY_METRIC = "energy_j_per_sample"
#: How often the integrator reads the power where there is no energy counter.
POWER_SAMPLE_S = 0.01
#: Polling interval while observing a counter's update period.
POLL_S = 0.001
#: Changes to see before taking the median interval (UPDATE_CHANGES - 1 intervals).
UPDATE_CHANGES = 6
#: Longest time spent observing the update period; it stands in for an unknown period.
UPDATE_CAP_S = 1.0
#: Counter updates per window: the quantisation error is at most 1/N of the energy.
UPDATES_PER_WINDOW = 50
#: Shortest window, whatever the update period.
MIN_WINDOW_S = 1.0
#: Longest window: 50 of NVML's slowest updates (100 ms). A counter whose period could not be
#: observed gets this one, not 50 x the observation's cap (50 s of a case per process).
MAX_WINDOW_S = 5.0
#: About how much work the active region queues between two syncs.
SYNC_EVERY_S = 0.1

_PACKAGE = re.compile(r"intel-rapl:(\d+)")
_SUBDOMAIN = re.compile(r"intel-rapl:(\d+):(\d+)")


class EnergyMeter(Protocol):
    """A cumulative energy reading since the meter opened."""

    name: str  # the source: nvml-counter, nvml-power, rapl
    domains: str  # what it covers: "GPU 0 board", "package-0+dram"
    note: str  # what makes it approximate, "" for a hardware counter

    def read_j(self) -> float: ...

    def close(self) -> None: ...


# --- RAPL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RaplDomain:
    name: str
    energy_file: Path
    range_uj: int


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


def _domain(folder: Path) -> RaplDomain:
    return RaplDomain(name=(folder / "name").read_text().strip(),
                      energy_file=folder / "energy_uj",
                      range_uj=_read_int(folder / "max_energy_range_uj"))


def rapl_domains(powercap: Path) -> list[RaplDomain]:
    """Each package domain followed by its DRAM subdomain: the energy counted once."""
    folders = {p.name: p for p in powercap.iterdir()}
    packages = sorted((int(m[1]), f) for n, f in folders.items() if (m := _PACKAGE.fullmatch(n)))
    domains = []
    for index, folder in packages:
        package = _domain(folder)
        if not package.name.startswith("package"):
            continue  # psys: the whole platform, the packages inside it
        domains.append(package)
        subdomains = sorted((int(m[2]), f) for n, f in folders.items()
                            if (m := _SUBDOMAIN.fullmatch(n)) and int(m[1]) == index)
        domains += [d for d in (_domain(f) for _, f in subdomains) if d.name == "dram"]
    return domains


def unwrap(previous_uj: int, current_uj: int, range_uj: int) -> int:
    """Microjoules between two readings of a counter that restarts at 0 past `range_uj`."""
    delta = current_uj - previous_uj
    return delta if delta >= 0 else delta + range_uj


class RaplMeter:
    """The sum of RAPL domains, unwrapped; read it at least once per wrap (minutes)."""

    name = "rapl"
    note = ""

    def __init__(self, domains: list[RaplDomain]) -> None:
        self._parts = domains
        self.domains = "+".join(d.name for d in domains)
        self._last = self._raw()  # PermissionError where energy_uj is root's only
        self._total_uj = 0

    def _raw(self) -> list[int]:
        return [_read_int(d.energy_file) for d in self._parts]

    def read_j(self) -> float:
        now = self._raw()
        self._total_uj += sum(unwrap(p, c, d.range_uj)
                              for p, c, d in zip(self._last, now, self._parts, strict=True))
        self._last = now
        return self._total_uj / 1e6

    def close(self) -> None:
        """Nothing to release: the files are opened per read."""


def open_rapl(powercap: Path = POWERCAP) -> RaplMeter | str:
    """The RAPL meter for the CPU packages and their DRAM, or why there is none."""
    if not powercap.is_dir():
        return f"no RAPL in {powercap} (a VM does not expose it)"
    try:
        domains = rapl_domains(powercap)
        if not domains:
            return f"no RAPL package domains in {powercap} (a VM does not expose them)"
        return RaplMeter(domains)
    except PermissionError:
        return ("RAPL present but energy_uj is readable by root only (Linux 5.10 and later, "
                "since CVE-2020-8694)")
    except (OSError, ValueError) as e:
        return f"RAPL present but unreadable ({e})"


# --- NVML ---------------------------------------------------------------------------------


class NvmlCounterMeter:
    """NVML's cumulative board energy counter (millijoules, 64 bits: it does not wrap)."""

    name = "nvml-counter"
    note = ""

    def __init__(self, nvml: Any, handle: Any, gpu: int | str) -> None:
        self._nvml, self._handle = nvml, handle
        self.domains = f"GPU {gpu} board"
        self._start_mj = self._read_mj()  # NVMLError where the GPU has no counter

    def _read_mj(self) -> int:
        return self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)

    def read_j(self) -> float:
        return (self._read_mj() - self._start_mj) / 1000

    def close(self) -> None:
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()


class PowerIntegrator:
    """Energy as the trapezoid integral of power readings taken by a background thread.

    `start()` starts the thread, `close()` stops it (and calls `release`). A reading that fails
    stops the sampling, and `read_j` then raises rather than return an integral with a hole.
    """

    name = "nvml-power"

    def __init__(self, read_w: Callable[[], float], domains: str, *,
                 clock: Clock = time.perf_counter, period_s: float = POWER_SAMPLE_S,
                 release: Callable[[], None] = lambda: None) -> None:
        self.domains = domains
        self.note = (f"integrated from power readings every {period_s * 1000:g} ms, which the "
                     "driver may average over its own window")
        self._read_w, self._clock, self._period_s, self._release = read_w, clock, period_s, release
        self._last = (clock(), read_w())  # raises where there are no readings
        self._joules = 0.0
        self._error: Exception | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="energy-power-sampler",
                                        daemon=True)

    def start(self) -> PowerIntegrator:
        self._thread.start()
        return self

    def sample(self) -> None:
        """Add the trapezoid from the last reading to a new one."""
        with self._lock:
            t, w = self._clock(), self._read_w()
            t0, w0 = self._last
            self._joules += (w0 + w) / 2 * (t - t0)
            self._last = (t, w)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.sample()
            except Exception as e:  # reported by read_j, in the measuring thread
                self._error = e
                return

    def read_j(self) -> float:
        if self._error is not None:
            raise RuntimeError(f"power sampling failed: {self._error}") from self._error
        return self._joules

    def close(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        self._release()


def _nvml_meter(nvml: Any, gpu: int | str, clock: Clock) -> EnergyMeter | str:
    """The counter where the GPU has one, else its power readings integrated."""
    try:
        handle = (nvml.nvmlDeviceGetHandleByUUID(gpu) if isinstance(gpu, str)
                  else nvml.nvmlDeviceGetHandleByIndex(gpu))
    except nvml.NVMLError as e:
        return f"NVML has no GPU {gpu} ({e})"
    with contextlib.suppress(nvml.NVMLError):  # NotSupported before Volta, or any failure
        return NvmlCounterMeter(nvml, handle, gpu)

    def release() -> None:
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()

    try:
        return PowerIntegrator(lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000,
                               f"GPU {gpu} board", clock=clock, release=release).start()
    except nvml.NVMLError as e:
        return f"GPU {gpu} has neither an energy counter nor power readings in NVML ({e})"


def open_nvml(gpu: int | str = 0, nvml: Any = None, clock: Clock = time.perf_counter,
              ) -> EnergyMeter | str:
    """An NVML meter for the GPU `gpu` (NVML's index, or its UUID 'GPU-...'), or why there is
    none. NVML numbers GPUs ignoring CUDA_VISIBLE_DEVICES, so a case names its GPU by UUID
    (`memory.torch_device_uuid`): torch's device 0 may be NVML's 3.
    """
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return "no NVML (the nvidia-ml-py package is not installed)"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as e:
        return f"NVML failed to initialise ({e})"
    meter = _nvml_meter(nvml, gpu, clock)
    if isinstance(meter, str):
        with contextlib.suppress(nvml.NVMLError):
            nvml.nvmlShutdown()
    return meter


def open_meter(device: str, gpu: int | str = 0, *, powercap: Path = POWERCAP, nvml: Any = None,
               clock: Clock = time.perf_counter) -> EnergyMeter | str:
    """The meter for a case on `device` ("cuda" or "cpu"), or the one-line reason for none.

    cuda: NVML's energy counter, else NVML's power readings integrated (GPU board energy).
    cpu: RAPL's package and DRAM counters. `nvml` stands in for the pynvml module and `clock`
    stamps the integrator's readings (both for tests). The caller closes the meter.
    """
    if device == "cuda":
        return open_nvml(gpu, nvml, clock)
    if device == "cpu":
        return open_rapl(powercap)
    return f"no energy meter for device {device!r} (cuda: NVML; cpu: RAPL)"


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EnergyResult:
    """One case's energy; the field names are the results row's columns."""

    energy_source: str
    energy_note: str
    idle_w: float
    avg_w: float
    energy_j_per_sample: float
    energy_net_j_per_sample: float
    energy_window_s: float
    energy_update_ms: float | None

    def columns(self) -> dict[str, Any]:
        return asdict(self)


def no_energy_columns(reason: str) -> dict[str, Any]:
    """The energy columns of a row without a meter: empty, and the note says why."""
    return {f.name: None for f in fields(EnergyResult)} | {"energy_note": reason}


def observe_update_period(read_j: Callable[[], float], clock: Clock = time.perf_counter,
                          sleep: Callable[[float], None] = time.sleep) -> float | None:
    """The median interval between the counter's changes; None when it changed under twice."""
    changes: list[float] = []
    last = read_j()
    start = clock()
    while len(changes) < UPDATE_CHANGES and clock() - start < UPDATE_CAP_S:
        sleep(POLL_S)
        value = read_j()
        if value != last:
            changes.append(clock())
            last = value
    if len(changes) < 2:
        return None
    return statistics.median(b - a for a, b in itertools.pairwise(changes))


def window_s(update_period_s: float | None) -> float:
    """Long enough that the counter's steps are at most 1/UPDATES_PER_WINDOW of the energy;
    `MAX_WINDOW_S` for a period that is unknown (None) or longer than NVML's."""
    if update_period_s is None:
        return MAX_WINDOW_S
    return min(MAX_WINDOW_S, max(MIN_WINDOW_S, UPDATES_PER_WINDOW * update_period_s))


def _next_block(block: int, block_s: float) -> int:
    """Steps until the next sync: about SYNC_EVERY_S of work, growing at most twofold."""
    per_step = block_s / block
    fits = int(SYNC_EVERY_S / per_step) if per_step > 0 else 2 * block
    return max(1, min(2 * block, fits))


def _run_steps(step: Callable[[], object], sync: Callable[[], None], seconds: float,
               clock: Clock) -> int:
    """Run `step` in synced blocks until `seconds` have passed; the steps run. Ends in sync()."""
    steps, block = 0, 1
    start = clock()
    while True:
        block_start = clock()
        for _ in range(block):
            step()
        sync()
        steps += block
        now = clock()
        if now - start >= seconds:
            return steps
        block = _next_block(block, now - block_start)


def measure_energy(step: Callable[[], object], sync: Callable[[], None], samples_per_step: int,
                   meter: EnergyMeter, clock: Clock = time.perf_counter,
                   sleep: Callable[[float], None] = time.sleep) -> EnergyResult:
    """Idle power, then the energy of `step` run back to back over a window (module docstring).

    Call it after the case's warm-up; it takes about two windows plus up to UPDATE_CAP_S.
    """
    sync()
    period = observe_update_period(meter.read_j, clock, sleep)
    notes = [meter.note] if meter.note else []
    if period is None:
        notes.append(f"the counter did not change twice in {UPDATE_CAP_S:g} s while idle; "
                     f"its window is the longest, {MAX_WINDOW_S:g} s")
    window = window_s(period)

    idle_j0, idle_t0 = meter.read_j(), clock()
    sleep(window)
    idle_j1, idle_t1 = meter.read_j(), clock()
    idle_w = (idle_j1 - idle_j0) / (idle_t1 - idle_t0)

    sync()
    active_j0, active_t0 = meter.read_j(), clock()
    steps = _run_steps(step, sync, window, clock)
    active_t1, active_j1 = clock(), meter.read_j()
    joules, seconds = active_j1 - active_j0, active_t1 - active_t0
    samples = steps * samples_per_step
    return EnergyResult(
        energy_source=f"{meter.name}: {meter.domains}",
        energy_note="; ".join(notes),
        idle_w=idle_w,
        avg_w=joules / seconds,
        energy_j_per_sample=joules / samples,
        energy_net_j_per_sample=(joules - idle_w * seconds) / samples,
        energy_window_s=seconds,
        energy_update_ms=None if period is None else period * 1000,
    )
