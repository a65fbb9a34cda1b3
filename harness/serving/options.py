"""What a user sets for the serving scenarios: the latency target, the batcher's longest wait,
a fixed arrival rate, the batches in flight on a device. Checked where it is made, so a wrong
value is one line before any case runs; None means the scenario's default
(`harness.scenarios.serving`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import UsageError


@dataclass(frozen=True)
class ServingOptions:
    """`--slo-ms` (the p99 target), `--max-wait-ms` (how long a batch may wait to fill; 0:
    never), `--server-qps` (one fixed arrival rate instead of searching for the peak),
    `--in-flight` (batches launched before the oldest has finished, on a device queue)."""

    slo_ms: float | None = None
    max_wait_ms: float | None = None
    server_qps: float | None = None
    in_flight: int | None = None

    def __post_init__(self) -> None:
        for name, value, least in (("--slo-ms", self.slo_ms, "a positive number of ms"),
                                   ("--server-qps", self.server_qps,
                                    "a positive number of queries a second"),
                                   ("--max-wait-ms", self.max_wait_ms, "a number of ms >= 0")):
            if value is None:
                continue
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and math.isfinite(value)
                    and (value >= 0 if name == "--max-wait-ms" else value > 0)):
                raise UsageError(f"{name} must be {least}, got {value}")
        flight = self.in_flight
        if flight is not None and (not isinstance(flight, int) or isinstance(flight, bool)
                                   or flight < 1):
            raise UsageError(f"--in-flight must be a positive integer, got {flight}")
