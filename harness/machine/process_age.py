"""How long this process has existed, exactly enough to split a second of start-up.

`psutil.Process().create_time()` is the boot time in wall-clock seconds (`/proc/stat` btime)
plus the process's start in clock ticks since boot; compared with `time.time()`, it carries
whatever the wall clock has been adjusted by since boot: on the sweep's VMs it read 0.28 s more
than the process had lived (a case's `startup_s` came out longer than its parent measured its
whole life). Both ends taken on the boot clock (`CLOCK_BOOTTIME`, and the start tick in
`/proc/self/stat`) leave the wall clock out, to the kernel's tick (10 ms).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil


def process_age_s() -> float:
    """Seconds since this process started (from its `exec`'s fork, as the kernel counts)."""
    try:
        # the fields after the command's closing parenthesis; starttime is field 22 of the line
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):  # not Linux
        return time.time() - psutil.Process().create_time()
