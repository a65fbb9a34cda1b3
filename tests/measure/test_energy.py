"""Energy meters on a fake powercap tree and a stand-in NVML; the measurement on a fake clock."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from harness.measure import energy

RANGE_UJ = 262_143_328_850  # a real package's max_energy_range_uj


# --- RAPL ---------------------------------------------------------------------------------


def _domain(root: Path, folder: str, name: str, energy_uj: int) -> None:
    path = root / folder
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "max_energy_range_uj").write_text(f"{RANGE_UJ}\n")
    _set(root, folder, energy_uj)


def _set(root: Path, folder: str, energy_uj: int) -> None:
    (root / folder / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    """One package with its core (inside the package) and DRAM (outside it) subdomains."""
    root = tmp_path / "powercap"
    _domain(root, "intel-rapl:0", "package-0", 1_000)
    _domain(root, "intel-rapl:0:0", "core", 500)
    _domain(root, "intel-rapl:0:1", "dram", 2_000)
    return root


def test_rapl_reads_the_package_and_its_dram_but_not_the_core(powercap: Path) -> None:
    meter = energy.open_meter("cpu", powercap=powercap)
    assert not isinstance(meter, str)
    assert (meter.name, meter.domains) == ("rapl", "package-0+dram")
    _set(powercap, "intel-rapl:0", 1_000 + 3_000_000)
    _set(powercap, "intel-rapl:0:0", 500 + 999_000_000)
    _set(powercap, "intel-rapl:0:1", 2_000 + 1_000_000)
    assert meter.read_j() == pytest.approx(4.0)


def test_a_counter_that_wraps_is_unwrapped(powercap: Path) -> None:
    _set(powercap, "intel-rapl:0", RANGE_UJ - 1_000_000)
    meter = energy.open_rapl(powercap)
    assert not isinstance(meter, str)
    _set(powercap, "intel-rapl:0", 500_000)  # 1 J up to the top, 0.5 J past the restart
    assert meter.read_j() == pytest.approx(1.5)
    _set(powercap, "intel-rapl:0", 2_500_000)
    assert meter.read_j() == pytest.approx(3.5)


def test_unwrap_uses_the_range_as_the_modulus() -> None:
    assert energy.unwrap(RANGE_UJ - 10, 5, RANGE_UJ) == 15
    assert energy.unwrap(100, 250, RANGE_UJ) == 150


def test_platform_and_mmio_domains_are_not_counted_twice(powercap: Path) -> None:
    _domain(powercap, "intel-rapl:1", "psys", 0)  # the whole platform: the package is inside
    _domain(powercap, "intel-rapl-mmio:0", "package-0", 0)  # the same package, read via MMIO
    _domain(powercap, "intel-rapl:2", "package-1", 0)
    _domain(powercap, "intel-rapl:2:0", "dram", 0)
    names = [d.name for d in energy.rapl_domains(powercap)]
    assert names == ["package-0", "dram", "package-1", "dram"]


def test_an_unreadable_energy_file_says_root_only(powercap: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    read_int = energy._read_int

    def root_only(path: Path) -> int:
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return read_int(path)

    monkeypatch.setattr(energy, "_read_int", root_only)
    reason = energy.open_meter("cpu", powercap=powercap)
    assert isinstance(reason, str)
    assert reason.startswith("RAPL present but energy_uj is readable by root only")


def test_no_powercap_folder_is_the_vm_reason(tmp_path: Path) -> None:
    reason = energy.open_meter("cpu", powercap=tmp_path / "powercap")
    assert isinstance(reason, str)
    assert reason.startswith("no RAPL in") and "a VM does not expose it" in reason


def test_a_powercap_folder_without_rapl_domains_is_the_vm_reason(tmp_path: Path) -> None:
    (tmp_path / "dtpm").mkdir()  # another powercap control type, no RAPL
    reason = energy.open_meter("cpu", powercap=tmp_path)
    assert isinstance(reason, str)
    assert reason.startswith("no RAPL package domains") and "a VM" in reason


# --- NVML ---------------------------------------------------------------------------------


class FakeNVMLError(Exception):
    pass


class FakeNotSupported(FakeNVMLError):
    pass


class FakeNvml:
    """pynvml's functions used here; `counter_mj` None means a GPU without the counter."""

    NVMLError = FakeNVMLError
    NVMLError_NotSupported = FakeNotSupported

    def __init__(self, counter_mj: int | None = 5_000, power_mw: int | None = 100_000,
                 fail_init: bool = False) -> None:
        self.counter_mj, self.power_mw, self.fail_init = counter_mj, power_mw, fail_init
        self.inits = self.shutdowns = 0

    def nvmlInit(self) -> None:
        self.inits += 1
        if self.fail_init:
            raise FakeNVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"handle-{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> str:
        if not uuid.startswith("GPU-"):
            raise FakeNVMLError("Invalid Argument")
        return f"handle-{uuid}"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: str) -> int:
        if self.counter_mj is None:
            raise FakeNotSupported("Not Supported")
        return self.counter_mj

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        if self.power_mw is None:
            raise FakeNotSupported("Not Supported")
        return self.power_mw


def test_a_gpu_with_an_energy_counter_uses_it() -> None:
    nvml = FakeNvml()
    meter = energy.open_meter("cuda", 1, nvml=nvml)
    assert not isinstance(meter, str)
    assert (meter.name, meter.domains) == ("nvml-counter", "GPU 1 board")
    nvml.counter_mj += 2_500
    assert meter.read_j() == pytest.approx(2.5)
    meter.close()
    assert nvml.shutdowns == 1
    by_uuid = energy.open_meter("cuda", "GPU-8f3a", nvml=nvml)  # as a case names its GPU
    assert not isinstance(by_uuid, str) and by_uuid.domains == "GPU GPU-8f3a board"
    by_uuid.close()


def test_a_gpu_without_the_counter_integrates_its_power_readings() -> None:
    now = [0.0]
    meter = energy.open_meter("cuda", nvml=FakeNvml(counter_mj=None), clock=lambda: now[0])
    assert isinstance(meter, energy.PowerIntegrator)
    try:
        now[0] = 0.5
        meter.sample()  # the thread may sample at 0.5 s too: that adds a zero-width interval
        assert meter.read_j() == pytest.approx(50.0)  # 100 000 mW for 0.5 s
        assert meter.name == "nvml-power" and "integrated" in meter.note
    finally:
        meter.close()


def test_the_integrator_averages_the_readings_around_each_interval() -> None:
    now = [0.0]
    watts = iter([100.0, 200.0, 200.0])
    meter = energy.PowerIntegrator(lambda: next(watts), "board", clock=lambda: now[0])
    now[0] = 1.0
    meter.sample()
    assert meter.read_j() == pytest.approx(150.0)  # trapezoid, not 100 or 200
    now[0] = 3.0
    meter.sample()
    assert meter.read_j() == pytest.approx(550.0)


def test_close_stops_the_sampling_thread_and_releases_nvml() -> None:
    nvml = FakeNvml(counter_mj=None)
    meter = energy.open_meter("cuda", nvml=nvml)
    assert isinstance(meter, energy.PowerIntegrator)
    assert any(t.name == "energy-power-sampler" for t in threading.enumerate())
    meter.close()
    assert not any(t.name == "energy-power-sampler" for t in threading.enumerate())
    assert nvml.shutdowns == 1


def test_a_failed_power_reading_is_raised_not_integrated_over() -> None:
    failed = threading.Event()
    readings = iter([100.0])

    def read_w() -> float:
        try:
            return next(readings)
        except StopIteration:
            failed.set()
            raise OSError("GPU is lost") from None

    meter = energy.PowerIntegrator(read_w, "board", period_s=0.001).start()
    assert failed.wait(2.0)
    meter.close()  # joins the thread, which has stored the error by then
    with pytest.raises(RuntimeError, match="GPU is lost"):
        meter.read_j()


def test_nvml_that_fails_to_initialise_is_a_reason() -> None:
    reason = energy.open_meter("cuda", nvml=FakeNvml(fail_init=True))
    assert reason == "NVML failed to initialise (Driver Not Loaded)"


def test_a_gpu_with_neither_counter_nor_power_is_a_reason_and_releases_nvml() -> None:
    nvml = FakeNvml(counter_mj=None, power_mw=None)
    reason = energy.open_meter("cuda", nvml=nvml)
    assert isinstance(reason, str) and "neither an energy counter nor power" in reason
    assert nvml.shutdowns == 1


def test_without_the_nvml_library_the_reason_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    reason = energy.open_meter("cuda")
    assert isinstance(reason, str) and reason.startswith("no NVML")


def test_a_cuda_case_uses_nvml_and_a_cpu_case_uses_rapl(powercap: Path) -> None:
    nvml = FakeNvml()
    gpu = energy.open_meter("cuda", powercap=powercap, nvml=nvml)
    assert not isinstance(gpu, str) and gpu.name == "nvml-counter"
    gpu.close()
    cpu = energy.open_meter("cpu", powercap=powercap, nvml=nvml)
    assert not isinstance(cpu, str) and cpu.name == "rapl"
    assert nvml.inits == 1  # the CPU case never touched NVML


def test_another_device_is_a_reason() -> None:
    reason = energy.open_meter("mps")
    assert isinstance(reason, str) and "'mps'" in reason


# --- measuring ----------------------------------------------------------------------------


class FakeDevice:
    """A device on a clock of whole milliseconds: `idle_w` while sleeping, `busy_w` while a
    step runs; its counter shows the energy as of its last update, every `update_ms`."""

    name, domains, note = "fake", "board", ""

    def __init__(self, update_ms: int = 100, step_ms: int = 10, idle_w: float = 10.0,
                 busy_w: float = 50.0) -> None:
        self.update_ms, self.step_ms, self.idle_w, self.busy_w = update_ms, step_ms, idle_w, busy_w
        self.ms = 0
        self.energy_j = self.shown_j = 0.0
        self.events: list[str] = []

    def _advance(self, ms: int, watts: float) -> None:
        for _ in range(ms):
            self.ms += 1
            self.energy_j += watts / 1000
            if self.ms % self.update_ms == 0:
                self.shown_j = self.energy_j

    def clock(self) -> float:
        return self.ms / 1000

    def sleep(self, seconds: float) -> None:
        self._advance(max(1, round(seconds * 1000)), self.idle_w)

    def step(self) -> None:
        self.events.append("step")
        self._advance(self.step_ms, self.busy_w)

    def sync(self) -> None:
        self.events.append("sync")

    def read_j(self) -> float:
        self.events.append("read")
        return self.shown_j

    def close(self) -> None:
        pass


def _measure(device: FakeDevice, samples_per_step: int = 4) -> energy.EnergyResult:
    return energy.measure_energy(device.step, device.sync, samples_per_step, device,
                                 clock=device.clock, sleep=device.sleep)


def test_the_update_period_is_the_interval_between_counter_changes() -> None:
    device = FakeDevice(update_ms=20)
    period = energy.observe_update_period(device.read_j, device.clock, device.sleep)
    assert period == pytest.approx(0.020)


def test_idle_and_active_power_and_energy_per_sample() -> None:
    device = FakeDevice()
    result = _measure(device)
    assert result.energy_update_ms == pytest.approx(100)
    assert 5.0 <= result.energy_window_s < 5.2  # 50 updates of 100 ms, ended at a block's end
    # the counter's 100 ms steps bound the error by one update's energy: 1/50 of the window's
    samples = round(result.energy_window_s / 0.010) * 4
    update_j = 50.0 * 0.1
    assert result.idle_w == pytest.approx(10.0)
    assert result.avg_w == pytest.approx(50.0, rel=1 / 50)
    assert result.energy_j_per_sample == pytest.approx(50.0 * 0.010 / 4, abs=update_j / samples)
    assert result.energy_net_j_per_sample == pytest.approx((50.0 - 10.0) * 0.010 / 4,
                                                           abs=update_j / samples)
    assert result.columns()["energy_source"] == "fake: board"
    assert result.energy_note == ""


def test_a_fast_counter_still_gets_the_minimum_window() -> None:
    result = _measure(FakeDevice(update_ms=1))
    assert result.energy_update_ms == pytest.approx(1)
    assert 1.0 <= result.energy_window_s < 1.2


def test_the_active_region_ends_with_a_sync_before_the_last_read() -> None:
    device = FakeDevice()
    _measure(device)
    assert device.events[-2:] == ["sync", "read"]
    steps, syncs = device.events.count("step"), device.events.count("sync")
    assert syncs < steps / 5  # steps run back to back in blocks, not one sync per step


def test_blocks_grow_to_the_sync_interval_but_at_most_double() -> None:
    assert energy._next_block(1, 0.001) == 2
    assert energy._next_block(64, 0.064) == 100  # 1 ms steps: 100 per 0.1 s
    assert energy._next_block(4, 0.8) == 1  # 200 ms steps: sync after each


def test_a_counter_that_never_changes_says_so_and_gets_the_longest_window() -> None:
    result = _measure(FakeDevice(update_ms=10**9))
    assert result.energy_update_ms is None
    assert "did not change" in result.energy_note
    assert energy.MAX_WINDOW_S <= result.energy_window_s < energy.MAX_WINDOW_S + 0.2
    assert energy.window_s(1.0) == energy.MAX_WINDOW_S  # slower than NVML's: capped too


def test_a_row_without_a_meter_has_every_energy_column_and_the_reason() -> None:
    columns = energy.no_energy_columns("no RAPL in /sys/class/powercap")
    measured = _measure(FakeDevice(update_ms=1)).columns()
    assert columns.keys() == measured.keys()
    assert columns["energy_note"] == "no RAPL in /sys/class/powercap"
    assert all(v is None for k, v in columns.items() if k != "energy_note")
