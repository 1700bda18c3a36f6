"""Speed benchmark: scan time per stage and peak memory, against a bare polars pass.

    python benchmarks/speed.py                 # 1 M and 5 M transactions
    python benchmarks/speed.py --huge          # also 20 M
    python benchmarks/speed.py --sizes 1M      # quick look

For each size it writes a canonical CSV export (a seeded numpy maker: heavy-
tailed account activity, cash in and out, card payments to merchants with MCCs,
transfers), then, each in its own subprocess so that peak memory is that
process's alone:

1. the bare pass: ``pl.scan_csv`` of the same file and a group-by per sender and
   per receiver (count and sum of amounts), collected together;
2. ``run_scan`` with default settings (the HTML report included, as the CLI does).

It prints wall time, CPU seconds, peak RSS (``ru_maxrss``), the per-stage timings
and peak RSS of the scan's manifest (a high-water mark: the stage where it jumps
set the peak), the ratio scan / bare pass, and seconds per million rows so the
growth from 1 M to 5 M (to 20 M) can be read off. On a shared machine read CPU
seconds and peak RSS: others' jobs make wall time noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from moneytrail import schema as S

SEED = 42
CHUNK_ROWS = 1_000_000
ROWS_PER_ACCOUNT = 10  # 5 M transactions ~ 500 K accounts
DAYS = 365
START = datetime(2024, 1, 1)
MERCHANTS = 20_000
MCCS = np.array([5411, 5812, 5814, 5541, 4121, 7011, 4511, 5912, 5999, 6011, 7297, 7311])
CITIES = np.array(["Chicago", "Houston", "Phoenix", "Denver", "Seattle", "Miami", "Boston"])


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if scale != 1 else text) * scale)


# --------------------------------------------------------------------------
# input maker
# --------------------------------------------------------------------------
def make_input(path: Path, n_rows: int, seed: int = SEED) -> None:
    """Write ``n_rows`` canonical transactions as CSV, chunk by chunk (bounded memory)."""
    rng = np.random.default_rng(seed)
    n_accounts = max(100, n_rows // ROWS_PER_ACCOUNT)
    with path.open("wb") as handle:
        written = 0
        while written < n_rows:
            size = min(CHUNK_ROWS, n_rows - written)
            chunk = _chunk(rng, size, n_accounts, written)
            chunk.write_csv(handle, include_header=written == 0)
            written += size


def _accounts(rng: np.random.Generator, size: int, n_accounts: int) -> np.ndarray:
    # Heavy-tailed activity: a few accounts move a lot, most move little.
    return (n_accounts * rng.power(0.6, size)).astype(np.int64)


def _chunk(rng: np.random.Generator, size: int, n_accounts: int, offset: int) -> pl.DataFrame:
    kind = rng.choice(4, size=size, p=[0.06, 0.05, 0.35, 0.54])  # cash in, cash out, card, xfer
    src = _accounts(rng, size, n_accounts)
    dst = _accounts(rng, size, n_accounts)
    merchant = rng.integers(0, MERCHANTS, size)
    seconds = rng.integers(0, DAYS * 86_400, size)
    amount = np.round(np.exp(rng.normal(4.0, 1.3, size)) + 1.0, 2)
    frame = pl.DataFrame(
        {
            "_kind": kind,
            "_src": src,
            "_dst": dst,
            "_merchant": merchant,
            "_seconds": seconds,
            S.AMOUNT: amount,
            "_mcc": MCCS[rng.integers(0, len(MCCS), size)],
            "_city": CITIES[rng.integers(0, len(CITIES), size)],
            "_xfer": rng.choice(["ach", "wire", "p2p"], size=size, p=[0.5, 0.1, 0.4]),
        }
    )
    account = pl.lit("A") + pl.col("_src").cast(pl.String)
    other = pl.lit("A") + pl.col("_dst").cast(pl.String)
    merchant_id = pl.lit("M:") + pl.col("_merchant").cast(pl.String)
    kind_ = pl.col("_kind")
    is_card_or_cash = kind_ <= 2
    return frame.select(
        (pl.lit("T") + (pl.int_range(pl.len()) + offset).cast(pl.String)).alias(S.TXN_ID),
        (pl.lit(START) + pl.duration(seconds=pl.col("_seconds")))
        .dt.strftime("%Y-%m-%d %H:%M:%S")
        .alias(S.TIMESTAMP),
        pl.col(S.AMOUNT),
        pl.lit("USD").alias(S.CURRENCY),
        pl.when(kind_ == 0).then(pl.lit(S.CASH_NODE)).otherwise(account).alias(S.FROM_ACCOUNT),
        pl.when(kind_ == 0)
        .then(account)
        .when(kind_ == 1)
        .then(pl.lit(S.CASH_NODE))
        .when(kind_ == 2)
        .then(merchant_id)
        .otherwise(other)
        .alias(S.TO_ACCOUNT),
        pl.when(kind_ <= 1)
        .then(pl.lit("cash"))
        .when(kind_ == 2)
        .then(pl.lit("card"))
        .otherwise(pl.col("_xfer"))
        .alias(S.CHANNEL),
        pl.when(kind_ == 2).then(pl.col("_mcc")).otherwise(None).alias(S.MCC),
        pl.when(is_card_or_cash).then(pl.col("_city")).otherwise(None).alias(S.LOCATION_CITY),
        pl.when(is_card_or_cash).then(pl.lit("US")).otherwise(None).alias(S.LOCATION_COUNTRY),
    )


# --------------------------------------------------------------------------
# workers (run in a subprocess each, so ru_maxrss is theirs alone)
# --------------------------------------------------------------------------
def worker_bare(path: str) -> dict:
    started = time.perf_counter()
    lazy = pl.scan_csv(path)
    out_side = lazy.group_by(S.FROM_ACCOUNT).agg(pl.len(), pl.col(S.AMOUNT).sum())
    in_side = lazy.group_by(S.TO_ACCOUNT).agg(pl.len(), pl.col(S.AMOUNT).sum())
    frames = pl.collect_all([out_side, in_side])
    return {
        "seconds": time.perf_counter() - started,
        "groups": sum(f.height for f in frames),
    }


def worker_scan(path: str, outdir: str) -> dict:
    from moneytrail.scan import run_scan

    started = time.perf_counter()
    run_scan([path], outdir, progress=False)
    seconds = time.perf_counter() - started
    manifest = json.loads((Path(outdir) / S.MANIFEST_FILE).read_text())
    return {
        "seconds": seconds,
        "timings": manifest.get("timings", {}),
        "stage_peak_rss_mb": manifest.get("peak_rss_mb", {}),
        "counts": manifest.get("counts", {}),
    }


def _run_worker(args: list[str]) -> dict:
    """Run one worker in a fresh interpreter; add its wall time and peak RSS."""
    command = [sys.executable, __file__, "--worker", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = wall
    result.setdefault("peak_rss_mb", None)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # The child's own figure is exact; the children's maximum is a cross-check.
    result["children_max_rss_mb"] = max(before, after) / 1024
    return result


def _worker_main(args: list[str]) -> None:
    kind, *rest = args
    result = worker_bare(*rest) if kind == "bare" else worker_scan(*rest)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    print(json.dumps(result))


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def _f(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,5M", help="comma list, e.g. 1M,5M")
    parser.add_argument("--huge", action="store_true", help="add a 20 M-row run")
    parser.add_argument("--workdir", type=Path, help="where inputs and scans go (kept)")
    parser.add_argument("--json", type=Path, help="write all numbers here")
    args = parser.parse_args(argv)

    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if args.huge:
        sizes.append(20_000_000)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="moneytrail-speed-"))
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for n in sizes:
            path = root / f"transactions_{n}.csv"
            if not path.exists():
                started = time.perf_counter()
                make_input(path, n)
                print(
                    f"made {n:,} rows in {time.perf_counter() - started:.1f} s "
                    f"({path.stat().st_size / 1e6:.0f} MB)",
                    file=sys.stderr,
                    flush=True,
                )
            bare = _run_worker(["bare", str(path)])
            print(f"bare pass {n:,}: {bare['seconds']:.1f} s", file=sys.stderr, flush=True)
            outdir = root / f"scan_{n}"
            shutil.rmtree(outdir, ignore_errors=True)
            scan = _run_worker(["scan", str(path), str(outdir)])
            print(f"scan {n:,}: {scan['seconds']:.1f} s", file=sys.stderr, flush=True)
            rows.append(
                {
                    "rows": n,
                    "file_mb": path.stat().st_size / 1e6,
                    "bare": bare,
                    "scan": scan,
                    "ratio": scan["seconds"] / bare["seconds"],
                }
            )
            if args.workdir is None:
                shutil.rmtree(outdir, ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    machine = (
        f"{os.cpu_count()} cores, {memory_gb:.0f} GB RAM, {platform.machine()}, "
        f"polars {pl.__version__}"
    )
    print(f"## Speed ({stamp}; {machine})\n")
    print(
        "| rows | accounts | CSV MB | bare pass s | bare peak MB | scan s | scan / bare | "
        "scan CPU s | scan peak MB | s per M rows |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        scan, bare = row["scan"], row["bare"]
        print(
            f"| {row['rows']:,} | {scan['counts'].get('accounts_scored', '–')} | "
            f"{row['file_mb']:.0f} | {bare['seconds']:.1f} | {_f(bare['peak_rss_mb'], 0)} | "
            f"{scan['seconds']:.1f} | {row['ratio']:.1f}x | {_f(scan.get('cpu_seconds'))} | "
            f"{_f(scan['peak_rss_mb'], 0)} | "
            f"{scan['seconds'] / (row['rows'] / 1e6):.2f} |"
        )
    # pipeline order, as the manifest lists them
    stages = list(dict.fromkeys(name for row in rows for name in row["scan"]["timings"]))
    if stages:
        print("\nScan time per stage (s, from the manifest):\n")
        print("| rows | " + " | ".join(stages) + " |")
        print("|---|" + "---|" * len(stages))
        for row in rows:
            timings = row["scan"]["timings"]
            cells = [_f(timings.get(name), 2) for name in stages]
            print(f"| {row['rows']:,} | " + " | ".join(cells) + " |")
        # ru_maxrss is a high-water mark: the stage where it jumps set the peak.
        print("\nPeak RSS by the end of each stage (MB, from the manifest):\n")
        print("| rows | " + " | ".join(stages) + " |")
        print("|---|" + "---|" * len(stages))
        for row in rows:
            peaks = row["scan"].get("stage_peak_rss_mb", {})
            cells = [_f(peaks.get(name), 0) for name in stages]
            print(f"| {row['rows']:,} | " + " | ".join(cells) + " |")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = (last["scan"]["seconds"] / first["scan"]["seconds"]) / (
            last["rows"] / first["rows"]
        )
        print(
            f"\nFrom {first['rows']:,} to {last['rows']:,} rows the scan time grew "
            f"{last['scan']['seconds'] / first['scan']['seconds']:.1f}x for "
            f"{last['rows'] / first['rows']:.0f}x the rows ({growth:.2f} of linear)."
        )
    if args.json:
        args.json.write_text(json.dumps({"created": stamp, "machine": machine, "runs": rows}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
    else:
        sys.exit(main())
