"""Labelled synthetic bank exports with planted trafficking typologies.

>>> from moneytrail.synth import generate
>>> result = generate("out", n_accounts=5000, days=180, seed=7)   # doctest: +SKIP

writes ``transactions.<fmt>`` and ``accounts.<fmt>`` in the canonical schema
plus ``labels.csv``, ``label_transactions.csv`` and ``lookalikes.csv``.
The same arguments always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.synth.benign import plant_benign
from moneytrail.synth.builder import Builder
from moneytrail.synth.population import (
    LOOKALIKE_GROUPS,
    accounts_frame,
    build_population,
)
from moneytrail.synth.typologies import PLANTERS, Planter

# Typologies of trafficking and child sexual exploitation proper ...
TRAFFICKING_TYPOLOGIES: tuple[str, ...] = (
    "funnel",
    "escort_ads_lodging",
    "collector",
    "front_business",
    "structuring",
    "rapid_pass_through",
    "controller_victims",
    "ocse_buyer",
    "sextortion_collector",
)
# ... and the generic laundering shapes of AMLSim and AMLworld.
GRAPH_TYPOLOGIES: tuple[str, ...] = (
    "fan_in",
    "fan_out",
    "cycle",
    "scatter_gather",
    "gather_scatter",
    "bipartite",
    "stack",
)
TYPOLOGIES: tuple[str, ...] = TRAFFICKING_TYPOLOGIES + GRAPH_TYPOLOGIES
FORMATS = ("csv", "parquet")
DEFAULT_START = date(2025, 1, 1)
MIN_ACCOUNTS = 500
MAX_ACCOUNTS = 1_000_000  # ids are 7 digits; beyond this, memory runs out first anyway
MIN_DAYS = 30
MAX_DAYS = 3660

LABELS_FILE = "labels.csv"
LABEL_TRANSACTIONS_FILE = "label_transactions.csv"
LOOKALIKES_FILE = "lookalikes.csv"

__all__ = [
    "FORMATS",
    "GRAPH_TYPOLOGIES",
    "LOOKALIKE_GROUPS",
    "TRAFFICKING_TYPOLOGIES",
    "TYPOLOGIES",
    "GenerateResult",
    "generate",
    "parse_typologies",
]


@dataclass(frozen=True)
class GenerateResult:
    out_dir: Path
    transactions: Path
    accounts: Path
    labels: Path
    label_transactions: Path
    lookalikes: Path
    n_transactions: int
    n_accounts: int
    n_cases: int
    n_laundering_transactions: int
    n_labelled_accounts: int


def parse_typologies(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """A comma list (or sequence) of typology names, checked, in canonical order."""
    if value is None:
        return TYPOLOGIES
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [v.strip() for v in items if v.strip()]
    unknown = [v for v in names if v not in TYPOLOGIES]
    if unknown or not names:
        raise InputError(
            f"unknown typolog{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}"
            if unknown else "no typology given",
            hint=f"choose from: {', '.join(TYPOLOGIES)}",
        )
    return tuple(t for t in TYPOLOGIES if t in names)


def cases_per_typology(n_accounts: int) -> int:
    """Two cases of each typology in small sets, about one per 1,500 accounts above."""
    return max(2, round(n_accounts / 1500))


def _intensity(rng: np.random.Generator, i: int) -> float:
    """Every fourth case (the second, sixth, ...) is deliberately faint."""
    return float(rng.uniform(0.2, 0.4) if i % 4 == 1 else rng.uniform(0.55, 1.5))


def generate(
    out_dir: str | Path,
    n_accounts: int = 5000,
    days: int = 180,
    seed: int = 7,
    typologies: str | list[str] | tuple[str, ...] | None = None,
    fmt: str = "csv",
    start: date = DEFAULT_START,
) -> GenerateResult:
    """Generate a labelled synthetic export into ``out_dir`` (created if needed)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint="use csv or parquet")
    if n_accounts < MIN_ACCOUNTS:
        raise InputError(f"--accounts {n_accounts} is too few to plant every typology",
                         hint=f"use at least {MIN_ACCOUNTS}")
    if n_accounts > MAX_ACCOUNTS:
        raise InputError(f"--accounts {n_accounts:,} is more than one run can hold",
                         hint=f"use at most {MAX_ACCOUNTS:,}, or several runs with other seeds")
    if days < MIN_DAYS:
        raise InputError(f"--days {days} is too short for monthly patterns",
                         hint=f"use at least {MIN_DAYS}")
    if days > MAX_DAYS:
        raise InputError(f"--days {days} is longer than ten years", hint=f"use at most {MAX_DAYS}")
    chosen = parse_typologies(typologies)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder: {exc.strerror}", file=str(out)) from None

    b = Builder(seed, days, start)
    per_typology = cases_per_typology(n_accounts)
    n_front = per_typology if "front_business" in chosen else 0
    pop = build_population(b, n_accounts, n_front=n_front)
    pools = plant_benign(b, pop)
    planter = Planter(b, pop, pools, used=np.zeros(pop.n, dtype=bool))
    for typology in chosen:
        rng = b.rng("case", typology)
        for i in range(per_typology):
            intensity = _intensity(rng, i)
            case = b.new_case(typology, intensity)
            try:
                PLANTERS[typology](planter, case, rng, intensity)
            except ValueError as exc:  # ran out of accounts to cast
                raise InputError(str(exc), hint="use more --accounts") from None

    txns = b.transactions()
    accounts = accounts_frame(b, pop, planter.kyc)
    labels, label_txns = b.label_frames(txns)
    benign = ~planter.used
    lookalikes = pl.DataFrame(
        {
            S.LB_ACCOUNT: [b.node_names[x] for x in pop.node[benign].tolist()],
            S.LB_GROUP: [LOOKALIKE_GROUPS[x] for x in pop.group[benign].tolist()],
        }
    ).sort(S.LB_ACCOUNT)

    paths = {
        "transactions": out / f"transactions.{fmt}",
        "accounts": out / f"accounts.{fmt}",
        "labels": out / LABELS_FILE,
        "label_transactions": out / LABEL_TRANSACTIONS_FILE,
        "lookalikes": out / LOOKALIKES_FILE,
    }
    _write(txns, paths["transactions"], fmt)
    _write(accounts, paths["accounts"], fmt)
    labels.write_csv(paths["labels"])
    label_txns.write_csv(paths["label_transactions"])
    lookalikes.write_csv(paths["lookalikes"])
    return GenerateResult(
        out_dir=out,
        **paths,
        n_transactions=txns.height,
        n_accounts=accounts.height,
        n_cases=len(b.cases),
        n_laundering_transactions=label_txns.height,
        n_labelled_accounts=labels.get_column(S.LB_ACCOUNT).n_unique(),
    )


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.write_csv(path, datetime_format="%Y-%m-%d %H:%M:%S", date_format="%Y-%m-%d",
                        float_precision=2)
    else:
        frame.write_parquet(path, statistics=False)
