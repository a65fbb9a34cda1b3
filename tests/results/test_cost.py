"""Prices and the cost of a million samples (`harness.results.cost`)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.results.cost import (
    cheapest_backends,
    load_prices,
    parse_price,
    price_for,
    usd_per_million_samples,
)
from harness.results.schema import to_frame


def test_a_price_names_its_kind_or_applies_to_any_machine() -> None:
    assert parse_price("nvidia-a10g=1.21") == ("nvidia-a10g", 1.21)
    assert parse_price("0.68") == ("*", 0.68)
    prices = (("*", 0.68), ("nvidia-a10g", 1.21))
    assert price_for(prices, "nvidia-a10g") == 1.21
    assert price_for(prices, "") == 0.68  # a run without --per-hardware
    assert price_for((("kind_a", 1.0),), "kind_b") is None


@pytest.mark.parametrize("text", ["cheap", "a=-1", "a=", "a=inf", "a=nan"])
def test_a_bad_price_is_one_line_naming_the_form(text: str) -> None:
    with pytest.raises(UsageError, match="--price takes KIND=USD_PER_HOUR or USD_PER_HOUR"):
        parse_price(text)


def test_a_prices_file_is_a_toml_table_of_kinds(tmp_path: Path) -> None:
    good = tmp_path / "prices.toml"
    good.write_text('[usd_per_hour]\n"*" = 0.68\nnvidia-a10g = 1.21\n')
    assert load_prices(good) == {"*": 0.68, "nvidia-a10g": 1.21}
    bad = tmp_path / "bad.toml"
    bad.write_text("usd_per_hour = 3\n")
    with pytest.raises(UsageError, match=r"a table \[usd_per_hour\]"):
        load_prices(bad)


def test_a_million_samples_cost_the_machine_share_for_the_time_they_take() -> None:
    # 1000 samples/s on a $3.60/h machine: 1e6 samples take 1000 s = $1.00
    assert usd_per_million_samples({"usd_per_hour": 3.6, "throughput_sps": 1000.0}) == \
        pytest.approx(1.0)
    # one GPU of a 4-GPU node pays a quarter of the node
    assert usd_per_million_samples({"usd_per_hour": 3.6, "throughput_sps": 1000.0,
                                    "cases_per_node": 4}) == pytest.approx(0.25)
    assert usd_per_million_samples({"throughput_sps": 1000.0}) is None  # no price
    assert usd_per_million_samples({"usd_per_hour": 3.6, "throughput_sps": math.nan}) is None


def test_the_cheapest_backend_per_model_is_one_that_passed_parity() -> None:
    base = {"suite": "cnn", "size": "small", "phase": "infer", "scenario": "throughput",
            "batch_size": 32, "status": "ok"}
    frame = to_frame([
        {**base, "case_id": "a", "backend": "cpu-eager", "usd_per_million_samples": 0.30,
         "parity_ok": True},
        {**base, "case_id": "b", "backend": "ort-cpu-int8", "usd_per_million_samples": 0.01,
         "parity_ok": False},  # cheapest, but wrong
        {**base, "case_id": "c", "backend": "ort-cpu", "usd_per_million_samples": 0.05,
         "parity_ok": True},
        {**base, "case_id": "d", "backend": "cpu-compile", "status": "error"},
    ])
    cheapest = cheapest_backends(frame)
    assert cheapest[["backend", "usd_per_million_samples", "next_backend"]].values.tolist() == [
        ["ort-cpu", 0.05, "cpu-eager"]]
    assert cheapest_backends(frame.assign(usd_per_million_samples=math.nan)).empty
