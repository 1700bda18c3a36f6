"""Speed and peak memory of ``moneytrail generate`` at benchmark scale.

    python benchmarks/generate_speed.py [--rows 5000000] [--days 180] [--format parquet]

Picks the number of accounts that gives about ``--rows`` transactions over
``--days`` (a typical account makes about 0.65 rows a day), generates into
benchmarks/.data/generate/, and prints the wall time, the rows written and the
peak resident memory of the process. Run it on an idle machine: the time is
that of one process on whatever cores polars and numpy are given.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

from moneytrail.synth import FORMATS, generate

DATA_DIR = Path(__file__).parent / ".data" / "generate"
ROWS_PER_ACCOUNT_DAY = 0.65  # measured on the default population mix


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--format", choices=FORMATS, default="parquet")
    args = ap.parse_args(argv)

    n_accounts = max(500, round(args.rows / (ROWS_PER_ACCOUNT_DAY * args.days)))
    shutil.rmtree(DATA_DIR, ignore_errors=True)  # our own scratch folder: no stale files
    start = time.perf_counter()
    result = generate(DATA_DIR, n_accounts=n_accounts, days=args.days, seed=args.seed,
                      fmt=args.format)
    took = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    size_mb = sum(p.stat().st_size for p in DATA_DIR.iterdir()) / 1e6
    print(f"accounts          {n_accounts:,}")
    print(f"days              {args.days}")
    print(f"transactions      {result.n_transactions:,} ({result.n_laundering_transactions:,}"
          f" planted in {result.n_cases} cases)")
    print(f"format            {args.format} ({size_mb:,.0f} MB written)")
    print(f"wall time         {took:.1f} s ({result.n_transactions / took / 1e6:.2f} M rows/s)")
    print(f"peak RSS          {peak_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
