"""Ingest speed against a bare ``polars.read_csv`` of the same canonical CSV.

    python benchmarks/ingest_speed.py [--rows 5000000] [--repeat 2]

Writes a canonical CSV once (numpy, cached in benchmarks/.data/), then times
``polars.read_csv`` (types inferred, no date parsing) and
``moneytrail.ingest.ingest`` (all validation, quarantine and provenance) and
prints both and their ratio, in wall-clock and in CPU seconds. The target is
a ratio of about 2 or less.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import numpy as np
import polars as pl

from moneytrail import schema as S
from moneytrail.ingest import ingest

DATA_DIR = Path(__file__).parent / ".data"


def make_csv(rows: int, path: Path, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    n_accounts = max(rows // 20, 10)
    start = np.datetime64("2024-01-01T00:00:00", "ms")
    seconds = np.sort(rng.integers(0, 365 * 86400, rows))
    frame = pl.DataFrame(
        {
            S.TXN_ID: np.arange(rows),
            S.TIMESTAMP: start + (seconds * 1000).astype("timedelta64[ms]"),
            S.AMOUNT: np.round(rng.lognormal(4.0, 1.2, rows) + 0.01, 2),
            S.CURRENCY: rng.choice(["USD", "EUR", "GBP"], rows, p=[0.8, 0.15, 0.05]),
            S.FROM_ACCOUNT: rng.integers(0, n_accounts, rows),
            S.TO_ACCOUNT: rng.integers(0, n_accounts, rows),
            S.CHANNEL: rng.choice(["card", "ach", "wire", "cash", "p2p"], rows),
            S.MCC: rng.choice([5411, 5812, 7011, 4829, 6011], rows),
            S.IS_LAUNDERING: rng.random(rows) < 0.01,
        }
    ).with_columns(
        pl.format("T{}", S.TXN_ID).alias(S.TXN_ID),
        pl.col(S.TIMESTAMP).dt.strftime("%Y-%m-%d %H:%M:%S"),
        pl.format("A{}", S.FROM_ACCOUNT).alias(S.FROM_ACCOUNT),
        pl.format("A{}", S.TO_ACCOUNT).alias(S.TO_ACCOUNT),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)


def best_of(repeat: int, call) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds (all threads) over ``repeat`` runs.

    CPU time is the steadier figure on a shared machine, where wall time
    mostly measures the neighbours.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    path = DATA_DIR / f"canonical_{args.rows}.csv"
    if not path.exists():
        print(f"writing {path} ...")
        make_csv(args.rows, path)
    size_mb = path.stat().st_size / 1e6
    bare = best_of(args.repeat, lambda: pl.read_csv(path))
    result = None

    def run():
        nonlocal result
        result = ingest([path])

    ingest_time = best_of(args.repeat, run)
    counts = result.files[0]
    print(f"file: {path.name}, {args.rows:,} rows, {size_mb:,.0f} MB, best of {args.repeat}")
    print(f"polars.read_csv:   wall {bare[0]:6.2f} s  cpu {bare[1]:6.2f} s")
    print(
        f"moneytrail ingest: wall {ingest_time[0]:6.2f} s  cpu {ingest_time[1]:6.2f} s  "
        f"(accepted {counts.accepted:,}, quarantined {counts.quarantined:,}, "
        f"profile {result.profile})"
    )
    print(f"ratio: wall {ingest_time[0] / bare[0]:.2f}x  cpu {ingest_time[1] / bare[1]:.2f}x")


if __name__ == "__main__":
    main()
