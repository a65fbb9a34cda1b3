"""OpenVINO's performance counters: executed layers summed per (type, kernel), and the trace
drawn from them."""

from __future__ import annotations

import pytest

from harness.profiling.ov_profile import PROVIDER, layer_timings, trace_events


def _layer(name: str, kind: str, kernel: str, us: float, status: str = "EXECUTED") -> dict:
    return {"name": name, "type": kind, "kernel": kernel, "status": status, "us": us}


RUNS = [[_layer("fc1", "FullyConnected", "brgemm_avx512_f32", 30.0),
         _layer("fc2", "FullyConnected", "brgemm_avx512_f32", 10.0),
         _layer("shape", "Reshape", "unknown_f32", 0.0, status="NOT_RUN"),
         _layer("norm", "MVN", "jit_avx512_f32", 5.0)]] * 2


def test_executed_layers_are_summed_per_type_and_kernel() -> None:
    timings = {(t.op, t.input_shapes): t for t in layer_timings(RUNS)}
    assert set(timings) == {("FullyConnected", "brgemm_avx512_f32"), ("MVN", "jit_avx512_f32")}
    fc = timings["FullyConnected", "brgemm_avx512_f32"]
    assert fc.self_us == pytest.approx(80.0) and fc.calls == 4
    assert fc.device == "cpu" and fc.provider == PROVIDER


def test_the_trace_lays_each_run_s_layers_end_to_end() -> None:
    events = trace_events(RUNS)
    assert [e["name"] for e in events] == ["FullyConnected", "FullyConnected", "MVN"] * 2
    assert [e["ts"] for e in events] == [0.0, 30.0, 40.0, 45.0, 75.0, 85.0]
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in events)
