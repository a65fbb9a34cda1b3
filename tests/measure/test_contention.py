"""Contention: what the rest of the machine did while a case was timed."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import psutil
import pytest

from harness.measure.contention import (
    Contention,
    ContentionMonitor,
    CpuSnapshot,
    between,
    note,
    run_warning,
)


def test_other_processes_are_busy_time_minus_our_own() -> None:
    start = CpuSnapshot(busy_s=100.0, steal_s=1.0, total_s=1000.0, own_s=10.0)
    # 4 s of wall time on 2 CPUs = 8 CPU-seconds: 5 busy, of which 1 was ours, 0.4 stolen
    end = CpuSnapshot(busy_s=105.0, steal_s=1.4, total_s=1008.0, own_s=11.0)
    result = between(start, end, load_avg_1m=1.5)
    assert result.other_cpu_pct == pytest.approx(50.0)
    assert result.steal_pct == pytest.approx(5.0)
    assert result.load_avg_1m == 1.5
    assert result.contended


def test_a_quiet_interval_is_not_contended_and_counters_never_go_negative() -> None:
    start = CpuSnapshot(busy_s=100.0, steal_s=0.0, total_s=1000.0, own_s=10.0)
    end = CpuSnapshot(busy_s=101.0, steal_s=0.0, total_s=1008.0, own_s=11.2)  # tick rounding
    result = between(start, end, 0.5)
    assert result.other_cpu_pct == 0.0 and not result.contended
    assert math.isnan(between(start, start, 0.5).other_cpu_pct)  # no time passed


@pytest.mark.parametrize(("contention", "noisy", "expected"), [
    (Contention(45.0, 0.0, 2.0), True, "noisy: other processes used 45% of the CPUs while "
                                       "timing"),
    (Contention(45.0, 6.0, 2.0), False, "contended: other processes used 45% of the CPUs "
                                        "while timing, steal 6%"),
    (Contention(2.0, 0.0, 1.0), True, "noisy (IQR 14% of the median) on a quiet machine "
                                      "(other processes used 2% of the CPUs while timing): "
                                      "the case varies by itself"),
    (Contention(2.0, 0.0, 1.0), False, ""),
    (None, True, "noisy; the machine's other activity was not measured"),
    (None, False, ""),
])
def test_the_note_says_why_a_number_may_be_off(contention: Contention | None, noisy: bool,
                                               expected: str) -> None:
    assert note(contention, noisy, rel_iqr=0.14) == expected


def test_the_run_warning_counts_contended_cases_and_names_the_worst() -> None:
    assert run_warning([1.0, 3.0], [0.0, 0.0]) is None
    warning = run_warning([1.0, 30.0, 45.0, math.nan], [0.0, 0.0, 7.0, math.nan])
    assert warning is not None
    assert warning.startswith("2 of 3 cases were timed under contention")
    assert "up to 45% of the CPUs, steal up to 7%" in warning


def test_the_monitor_sees_a_process_that_burns_a_cpu() -> None:
    """A busy loop in another process is one CPU's worth of 'other' time: 100% / CPUs."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start
        monitor = ContentionMonitor()
        monitor.start()
        time.sleep(1.0)  # this process idles meanwhile
        monitor.stop()
    finally:
        burner.kill()
        burner.wait()
    assert monitor.result is not None
    one_cpu = 100.0 / psutil.cpu_count()
    assert monitor.result.other_cpu_pct > 0.5 * one_cpu, monitor.result


def test_stop_before_start_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        ContentionMonitor().stop()
