"""Latency: one step at a time, the device synchronised after each.

Every sample is one step, from the host's call to the device's last kernel: what a server
handling one request at a time sees, launch overhead included. At batch 1 (the default) it
is the request-at-a-time number; p50, p90 and p99 come with n.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.scenarios.base import Binding, Scenario, timed_run

if TYPE_CHECKING:
    from harness.execute import CaseRun


class Latency(Scenario):
    name = "latency"

    def measure(self, run: CaseRun, binding: Binding) -> None:
        timed_run(run, binding, run.case.batch_size, block=1)


LATENCY = Latency()
