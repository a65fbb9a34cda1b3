"""Latency: one step at a time, the device synchronised after each.

Every sample is one step, from the host's call to the device's last kernel: what a server
handling one request at a time sees, launch overhead included. At batch 1 (the default) it
is the request-at-a-time number; p50, p90 and p99 come with n.
"""

from __future__ import annotations

from harness.scenarios.base import Binding, Scenario, ScenarioOutcome, ScenarioRequest, timed_run


class Latency(Scenario):
    name = "latency"

    def measure(self, request: ScenarioRequest, binding: Binding) -> ScenarioOutcome:
        outcome = ScenarioOutcome()
        timed_run(request, binding, request.batch_size, block=1, outcome=outcome)
        return outcome


LATENCY = Latency()
