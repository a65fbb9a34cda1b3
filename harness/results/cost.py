"""What a case costs: the price of its machine, and dollars per million samples at its speed.

Whoever picks a backend to ship pays per hour of a machine, not per millisecond. A sweep given
prices (`--price [KIND=]USD_PER_HOUR`, repeatable, or `--prices FILE`) records on every row the
hourly price of the machine that ran it (`usd_per_hour`: the price of the row's `hardware` kind,
in a `--per-hardware` sweep, else the price given without a kind), and derives the cost of a
million samples at the case's measured speed:

    usd_per_million_samples = usd_per_hour / cases_per_node / 3600 * 1e6 / throughput_sps

A case that shared its node (`--cases-per-node N`, or one GPU of an N-GPU node) used 1/N of the
machine, so it pays 1/N of its price. The throughput is the row's (its batch over its median
step), so the cost has the same uncertainty as the time, and it is the cost of the machine kept
busy with this case: an idle machine costs the same per hour and serves nothing. Energy is not
in it (it is in the hourly price of a rented machine); `energy_j_per_sample` is beside it where
the hardware counted it.

A prices file is TOML: a table `usd_per_hour` whose keys are kinds (`"*"` for any machine), e.g.

    [usd_per_hour]
    "*" = 0.68
    nvidia-a10g = 1.21
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomllib

from harness.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

#: The kind a price without a kind applies to: every machine the sweep runs on.
ANY_KIND = "*"


def parse_price(text: str) -> tuple[str, float]:
    """`KIND=USD_PER_HOUR` or `USD_PER_HOUR` (any machine) as (kind, price); one clear line
    for anything else."""
    kind, _, price = text.rpartition("=")
    try:
        value = float(price)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise UsageError(f"--price takes KIND=USD_PER_HOUR or USD_PER_HOUR (a number of dollars "
                         f"an hour, 0 or more), got '{text}'")
    return (kind.strip() or ANY_KIND), value


def load_prices(path: str | Path) -> dict[str, float]:
    """The `usd_per_hour` table of a prices file (module docstring)."""
    try:
        table = tomllib.loads(Path(path).read_text())["usd_per_hour"]
        prices = {str(kind): float(price) for kind, price in table.items()}
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError,
            AttributeError) as exc:
        raise UsageError(f"cannot read prices from {path}: it must be TOML with a table "
                         f"[usd_per_hour] of KIND = dollars per hour ({type(exc).__name__}: "
                         f"{exc})") from exc
    return dict(parse_price(f"{kind}={price}") for kind, price in prices.items())


def price_for(prices: Iterable[tuple[str, float]], hardware: str) -> float | None:
    """The hourly price of the machine a case ran on: its kind's, else the one for any kind."""
    table = dict(prices)
    return table.get(hardware) if hardware in table else table.get(ANY_KIND)


def usd_per_million_samples(row: Mapping[str, Any]) -> float | None:
    """Dollars per million samples at the row's throughput (module docstring), or None where
    the row has no price or no throughput."""
    price, throughput = row.get("usd_per_hour"), row.get("throughput_sps")
    if not _positive(throughput) or not isinstance(price, (int, float)) or math.isnan(price):
        return None
    share = row.get("cases_per_node")
    share = share if _positive(share) else 1
    return price / share / 3600 * 1e6 / throughput


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value) and value > 0


#: What makes two rows comparable for "which backend is cheapest": the same model, task,
#: measurement and machine kind.
COMPARABLE = ["suite", "size", "phase", "scenario", "batch_size", "hardware"]


def cheapest_backends(frame: pd.DataFrame) -> pd.DataFrame:
    """Per comparable group (`COMPARABLE`), the backend with the lowest cost per million
    samples among those that finished and did not fail parity (training rows have no parity
    check; they count as passing), with the group's next cheapest for scale."""
    import pandas as pd  # here, not above: every case process imports this module's prices
    priced = frame[(frame["status"] == "ok") & frame["usd_per_million_samples"].notna()
                   & (frame["parity_ok"].fillna(True) != False)]  # noqa: E712 (NA-aware)
    rows = []
    for key, group in priced.groupby([frame[c].fillna("") for c in COMPARABLE], sort=False):
        ranked = group.sort_values("usd_per_million_samples")
        best = ranked.iloc[0]
        rows.append({**dict(zip(COMPARABLE, key, strict=True)), "backend": best["backend"],
                     "usd_per_million_samples": best["usd_per_million_samples"],
                     "next_backend": ranked["backend"].iloc[1] if len(ranked) > 1 else "",
                     "next_usd_per_million_samples": (ranked["usd_per_million_samples"].iloc[1]
                                                      if len(ranked) > 1 else math.nan)})
    return pd.DataFrame(rows, columns=[*COMPARABLE, "backend", "usd_per_million_samples",
                                       "next_backend", "next_usd_per_million_samples"])
