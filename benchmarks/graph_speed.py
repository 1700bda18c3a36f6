"""Speed and peak memory of the graph typology detectors at scale.

    python benchmarks/graph_speed.py                       # 5 M rows, 500 K accounts
    python benchmarks/graph_speed.py --rows 1000000 --accounts 100000
    python benchmarks/graph_speed.py --per-detector        # also each detector alone

Makes a year of transactions with numpy: standing relationships (each account
pays a few fixed payees again and again), one-off transfers between random
accounts, card payments to merchants, cash in and out, and planted instances
of every typology (fan-in, fan-out, cycles, scatter-gather, gather-scatter,
bipartite, stack, chains, funnels). Writes them to a temporary Parquet file and
runs each stage in a fresh process so its peak memory (VmHWM) is its own:

- ``bare``: ``pl.scan_parquet`` + one group-by (count and sum per sender): the yardstick
- ``patterns``: ``detect_patterns`` with default settings on the same file
- with ``--per-detector``: ``detect_patterns`` with one detector enabled at a time

Prints a table and, at the end, one JSON line with every figure. Reports how many
planted instances were found, as a check that the run did real work.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from moneytrail import schema as S

DAY_US = 86_400_000_000
START = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)


def _planted(rng: np.random.Generator, n_each: int) -> tuple[list[tuple], dict[str, set[str]]]:
    """(from, to, amount, offset_us, channel, city) rows of planted instances."""
    rows: list[tuple] = []
    planted: dict[str, set[str]] = {}

    def acc(kind: str, i: int, j: int) -> str:
        return f"PL{kind}{i:04d}x{j:03d}"

    def t(day: float) -> int:
        return int(day * DAY_US + rng.integers(0, DAY_US // 2))

    for i in range(n_each):
        base = float(rng.integers(10, 300))
        hub = acc("fi", i, 0)
        for j in range(1, 9):
            rows.append((acc("fi", i, j), hub, 400 + j, t(base + rng.uniform(0, 20)), "p2p", None))
        planted.setdefault("fan_in", set()).add(hub)
        hub = acc("fo", i, 0)
        for j in range(1, 9):
            rows.append((hub, acc("fo", i, j), 300 + j, t(base + rng.uniform(0, 20)), "p2p", None))
        planted.setdefault("fan_out", set()).add(hub)
        ring = [acc("cy", i, j) for j in range(4)]
        for j in range(4):
            rows.append((ring[j], ring[(j + 1) % 4], 5000 - 50 * j, t(base + 2 * j), "wire", None))
        planted.setdefault("cycle", set()).update(ring)
        src, sink = acc("sg", i, 0), acc("sg", i, 9)
        for j in range(1, 5):
            rows.append((src, acc("sg", i, j), 2000, t(base + 1), "wire", None))
            rows.append((acc("sg", i, j), sink, 1950, t(base + 4), "wire", None))
        planted.setdefault("scatter_gather", set()).update({src, sink})
        hub = acc("gs", i, 0)
        for j in range(1, 4):
            rows.append((acc("gs", i, j), hub, 900, t(base + j), "p2p", None))
            rows.append((hub, acc("gs", i, 10 + j), 850, t(base + 6 + j), "p2p", None))
        planted.setdefault("gather_scatter", set()).add(hub)
        for a in range(3):
            for b in range(3):
                rows.append((acc("bp", i, a), acc("bp", i, 10 + b), 700, t(base + a), "ach", None))
                rows.append(
                    (acc("bp", i, 10 + a), acc("bp", i, 20 + b), 650, t(base + 5 + b), "ach", None)
                )
        planted.setdefault("stack", set()).add(acc("bp", i, 10))
        chain = [acc("ch", i, j) for j in range(5)]
        for j in range(4):
            rows.append(
                (chain[j], chain[j + 1], 3000 - 20 * j, t(base) + j * 6 * 3600 * 10**6, "p2p", None)
            )
        planted.setdefault("pass_through_chain", set()).update(chain)
        fun = acc("fu", i, 0)
        for j in range(6):
            rows.append((S.CASH_NODE, fun, 1500, t(base + j * 0.8), "cash", f"city{j * 7}"))
        rows.append((fun, acc("fu", i, 1), 8500, t(base + 5), "wire", None))
        planted.setdefault("funnel", set()).add(fun)
    return rows, planted


def make_transactions(rows: int, accounts: int, seed: int = 11):
    rng = np.random.default_rng(seed)
    ids = np.char.add("AC", np.char.zfill(np.arange(accounts).astype(str), 7))
    n_merchants = max(accounts // 25, 1)
    merchant_ids = np.char.add("M", np.char.zfill(np.arange(n_merchants).astype(str), 6))
    n_standing = int(rows * 0.45)
    n_oneoff = int(rows * 0.15)
    n_card = int(rows * 0.28)
    n_cash = rows - n_standing - n_oneoff - n_card
    # Standing relationships: a third of the accounts pay three fixed payees
    # each, again and again (rent, salary, family): about eight times a year.
    payer = rng.integers(0, max(accounts // 3, 1), n_standing)
    slot = rng.integers(0, 3, n_standing)
    payee = (payer * 7919 + slot * 104_729 + 1) % accounts
    payee = np.where(payee == payer, (payee + 1) % accounts, payee)
    oneoff_from = rng.integers(0, accounts, n_oneoff)
    oneoff_to = rng.integers(0, accounts, n_oneoff)
    card_from = rng.integers(0, accounts, n_card)
    card_to = merchant_ids[(rng.pareto(1.2, n_card) * 50).astype(np.int64) % n_merchants]
    cash_acc = rng.integers(0, accounts, n_cash)
    deposit = rng.random(n_cash) < 0.5
    from_acc = np.concatenate(
        [
            ids[payer],
            ids[oneoff_from],
            ids[card_from],
            np.where(deposit, S.CASH_NODE, ids[cash_acc]),
        ]
    )
    to_acc = np.concatenate(
        [ids[payee], ids[oneoff_to], card_to, np.where(deposit, ids[cash_acc], S.CASH_NODE)]
    )
    channel = np.concatenate(
        [
            rng.choice(np.array(["ach", "wire", "p2p"]), n_standing),
            rng.choice(np.array(["p2p", "wire"]), n_oneoff),
            np.full(n_card, "card"),
            np.full(n_cash, "cash"),
        ]
    )
    city = pl.concat(
        [
            pl.Series([None] * (n_standing + n_oneoff), dtype=pl.String),
            pl.Series(rng.choice(np.array([f"city{i}" for i in range(300)]), n_card + n_cash)),
        ]
    )
    offsets = rng.integers(0, 365 * DAY_US, rows)
    amounts = np.round(rng.lognormal(4.8, 1.1, rows), 2)
    planted_rows, planted = _planted(rng, n_each=max(5, rows // 200_000))
    p = list(zip(*planted_rows, strict=True))
    frame = pl.DataFrame(
        {
            S.FROM_ACCOUNT: np.concatenate([from_acc, np.array(p[0])]),
            S.TO_ACCOUNT: np.concatenate([to_acc, np.array(p[1])]),
            S.AMOUNT: np.concatenate([amounts, np.array(p[2], dtype=float)]),
            "_off": np.concatenate([offsets, np.array(p[3], dtype=np.int64)]),
            S.CHANNEL: np.concatenate([channel, np.array(p[4])]),
            S.LOCATION_CITY: pl.concat([city, pl.Series(list(p[5]), dtype=pl.String)]),
        },
        strict=False,
    )
    frame = (
        frame.sort("_off")
        .with_columns(
            pl.format("t{}", pl.int_range(pl.len())).alias(S.TXN_ID),
            pl.from_epoch(pl.col("_off") + START, time_unit="us").alias(S.TIMESTAMP),
            pl.col(S.CHANNEL).cast(S.CHANNEL_DTYPE),
        )
        .drop("_off")
    )
    return frame, planted


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stage(name: str, path: str, enabled: str | None) -> None:
    """Run one stage in this (fresh) process and print its figures as JSON."""
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    extra: dict = {}
    if name == "bare":
        out = (
            pl.scan_parquet(path)
            .group_by(S.FROM_ACCOUNT)
            .agg(pl.len(), pl.col(S.AMOUNT).sum())
            .collect()
        )
        extra["groups"] = out.height
    else:
        from moneytrail.graph import DEFAULTS, detect_patterns

        settings = dict(DEFAULTS)
        if enabled:
            settings["enabled"] = [enabled]
        res = detect_patterns(pl.scan_parquet(path), None, settings)
        ev = res.evidence
        extra["evidence_rows"] = ev.height
        extra["instances"] = dict(
            ev.group_by(S.EV_CODE).agg(pl.col(S.EV_INSTANCE).n_unique()).iter_rows()
        )
        extra["accounts"] = ev[S.EV_ACCOUNT].unique().to_list()
    seconds = time.perf_counter() - t0
    # CPU seconds as well: on a shared machine wall time depends on the neighbours.
    extra["cpu_seconds"] = time.process_time() - cpu0
    print(
        json.dumps(
            {
                "stage": name,
                "enabled": enabled,
                "seconds": seconds,
                "peak_mb": _peak_rss_mb(),
                **extra,
            }
        )
    )


def _run(name: str, path: str, enabled: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--stage", name, "--path", path]
    if enabled:
        cmd += ["--enabled", enabled]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--accounts", type=int, default=500_000)
    ap.add_argument("--per-detector", action="store_true")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--enabled", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        _stage(args.stage, args.path, args.enabled)
        return
    t0 = time.perf_counter()
    frame, planted = make_transactions(args.rows, args.accounts)
    print(f"generated {frame.height:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "transactions.parquet")
        frame.write_parquet(path)
        del frame
        results = [_run("bare", path), _run("patterns", path)]
        if args.per_detector:
            from moneytrail.graph import PATTERN_CODES

            for code in PATTERN_CODES:
                if code != "shared_identifiers":  # needs an accounts table
                    results.append(_run("patterns", path, code))
    bare = results[0]["seconds"]
    bare_cpu = results[0]["cpu_seconds"]
    print(f"{'stage':<28}{'seconds':>9}{'× bare':>8}{'cpu s':>8}{'× bare':>8}{'peak MB':>9}")
    for r in results:
        label = r["stage"] + (f" ({r['enabled']})" if r["enabled"] else "")
        print(
            f"{label:<28}{r['seconds']:>9.2f}{r['seconds'] / bare:>8.1f}"
            f"{r['cpu_seconds']:>8.2f}{r['cpu_seconds'] / bare_cpu:>8.1f}{r['peak_mb']:>9.0f}"
        )
    found = set(results[1].get("accounts", []))
    recall = {code: f"{len(found & accts)}/{len(accts)}" for code, accts in planted.items()}
    print("planted key accounts found (any pattern):", recall)
    print("instances:", results[1].get("instances"))
    for r in results:
        r.pop("accounts", None)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "accounts": args.accounts,
                "results": results,
                "planted_found": recall,
            }
        )
    )


if __name__ == "__main__":
    main()
