"""Speed and memory of account features and the outlier ensemble; AMLSim yardstick.

    python benchmarks/features_speed.py --rows 1000000            # features + outliers
    python benchmarks/features_speed.py --rows 5000000 --accounts 500000
    python benchmarks/features_speed.py --amlsim ../shared/data/amlsim_small
    python benchmarks/features_speed.py --generated DIR     # moneytrail generate -o DIR
    python benchmarks/features_speed.py --amlsim-2019 DIR   # amlsim_upstream_20k/20K_cycle200
    python benchmarks/features_speed.py --compare OLD.parquet NEW.parquet  # same features?
    python benchmarks/features_speed.py --rows 5000000 --accounts 500000 --keep DIR
    python benchmarks/features_speed.py --compare-scores OLD.scores.parquet NEW.scores.parquet

Speed: makes its own transactions with numpy (heavy-tailed account activity,
a year of timestamps with a time of day, channels, MCCs, cities, countries),
writes them to a temporary Parquet file and runs each stage in a fresh
process so its peak memory (VmHWM) is its own:

- ``bare``: ``pl.scan_parquet`` + one group-by (count and sum per sender): the yardstick
- ``features``: ``account_features`` on the same file
- ``outliers``: ``detect_outliers`` on the features

``--keep DIR`` keeps the transactions, the features and the outlier scores
(``transactions.parquet.features.parquet``, ``transactions.parquet.scores.parquet``):
run two versions with their own DIR, then ``--compare`` the features and
``--compare-scores`` the rankings (top-k overlap at the default review budget).
The machine may be shared: read ``cpu_seconds`` (all threads), not ``seconds``;
``POLARS_MAX_THREADS=1`` makes the CPU seconds of two runs steadier.

Yardstick (``--amlsim``): average precision at account level of the outlier
score alone (positives: members of ``is_sar=True`` alerts), next to a seeded
IsolationForest on in/out counts and sums alone. ``accounts.csv`` is not read
(its ``prior_sar_count`` leaks the labels).
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


def make_transactions(rows: int, accounts: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    # heavy-tailed activity: a few busy accounts, many quiet ones
    weight = rng.pareto(1.5, accounts) + 1
    weight /= weight.sum()
    senders = rng.choice(accounts, size=rows, p=weight)
    receivers = rng.choice(accounts, size=rows, p=weight)
    start = np.datetime64("2024-01-01T00:00:00", "us").astype(np.int64)
    offsets = rng.integers(0, 365 * 86_400_000_000, rows)
    channel = rng.choice(
        np.array(S.CHANNELS[:-1]), size=rows, p=[0.08, 0.1, 0.15, 0.4, 0.15, 0.02, 0.02, 0.08]
    )
    is_card = channel == "card"
    is_cash = channel == "cash"
    merchants = rng.integers(0, max(accounts // 20, 1), rows)
    ids = np.char.add("AC", np.char.zfill(np.arange(accounts).astype(str), 7))
    merchant_ids = np.char.add("M", np.char.zfill(merchants.astype(str), 6))
    deposit = is_cash & (rng.random(rows) < 0.5)
    from_acc = np.where(deposit, S.CASH_NODE, ids[senders])
    to_acc = np.where(
        is_card, merchant_ids, np.where(is_cash & ~deposit, S.CASH_NODE, ids[receivers])
    )
    mcc_pool = np.array([5411, 5812, 5814, 7011, 4121, 4511, 7311, 6540, 6051, 4829, 5912, 5999])
    mcc = np.where(is_card, rng.choice(mcc_pool, rows), -1)
    cities = np.array([f"city{i}" for i in range(200)])
    countries = np.array(["US", "CA", "MX", "GB", "DE", "PH", "TH", "RO"])
    located = is_card | is_cash
    return (
        pl.DataFrame(
            {
                S.TXN_ID: np.char.add("t", np.arange(rows).astype(str)),
                S.TIMESTAMP: pl.Series(start + np.sort(offsets)).cast(pl.Datetime("us")),
                S.AMOUNT: np.round(rng.lognormal(4.5, 1.3, rows), 2),
                S.FROM_ACCOUNT: from_acc,
                S.TO_ACCOUNT: to_acc,
                S.CHANNEL: pl.Series(channel).cast(S.CHANNEL_DTYPE),
                S.MCC: pl.Series(mcc).cast(pl.Int32).replace(-1, None),
                S.LOCATION_CITY: rng.choice(cities, rows),
                S.LOCATION_COUNTRY: rng.choice(countries, rows),
                S.TO_COUNTRY: pl.Series(rng.choice(countries, rows, p=[0.93] + [0.01] * 7)),
                "_located": located,
            }
        )
        .with_columns(
            # branch, ATM or merchant location: cash and card rows only
            pl.when("_located").then(pl.col(c)).alias(c)
            for c in (S.LOCATION_CITY, S.LOCATION_COUNTRY)
        )
        .drop("_located")
    )


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_stage(stage: str, path: str) -> dict:
    from moneytrail.features import account_features
    from moneytrail.outliers import detect_outliers

    t0, c0 = time.perf_counter(), time.process_time()
    out: dict = {"stage": stage}
    if stage == "bare":
        df = (
            pl.scan_parquet(path)
            .group_by(S.FROM_ACCOUNT)
            .agg(pl.len(), pl.col(S.AMOUNT).sum())
            .collect()
        )
        out["groups"] = df.height
    elif stage == "features":
        fr = account_features(pl.scan_parquet(path))
        fr.frame.write_parquet(path + ".features.parquet")
        out["accounts"] = fr.frame.height
        out["features"] = fr.frame.width - 1
    elif stage == "outliers":
        feats = pl.read_parquet(path + ".features.parquet")
        t0, c0 = time.perf_counter(), time.process_time()
        res = detect_outliers(feats)
        out["accounts"] = res.scores.height
        out["evidence"] = res.evidence.height
        res.scores.write_parquet(path + ".scores.parquet")
    out["seconds"] = round(time.perf_counter() - t0, 2)
    # CPU seconds of all threads: steadier than wall time on a shared machine
    out["cpu_seconds"] = round(time.process_time() - c0, 2)
    out["peak_mb"] = round(_peak_mb())
    return out


def speed(rows: int, accounts: int, keep: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
        path = str(Path(keep or tmp) / "transactions.parquet")
        t0 = time.perf_counter()
        make_transactions(rows, accounts).write_parquet(path)
        print(f"generated {rows:,} rows in {time.perf_counter() - t0:.1f}s", flush=True)
        results = []
        for stage in ("bare", "features", "outliers"):
            proc = subprocess.run(
                [sys.executable, __file__, "--stage", stage, "--path", path],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
        for unit in ("seconds", "cpu_seconds"):
            ratio = results[1][unit] / max(results[0][unit], 1e-9)
            print(f"features / bare pass ({unit}): {ratio:.1f}x")


def amlsim(directory: str) -> None:
    from pyod.models.iforest import IForest
    from sklearn.metrics import average_precision_score

    from moneytrail.features import account_features
    from moneytrail.outliers import detect_outliers

    d = Path(directory)
    tx = pl.scan_csv(d / "transactions.csv").select(
        pl.col("tran_id").cast(pl.String).alias(S.TXN_ID),
        pl.col("tran_timestamp")
        .str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us")
        .alias(S.TIMESTAMP),
        pl.col("base_amt").cast(pl.Float64).alias(S.AMOUNT),
        pl.col("orig_acct").cast(pl.String).alias(S.FROM_ACCOUNT),
        pl.col("bene_acct").cast(pl.String).alias(S.TO_ACCOUNT),
    )
    alerts = pl.read_csv(d / "alert_accounts.csv").select(
        pl.col("acct_id").cast(pl.String).alias(S.ACCOUNT_ID), "alert_type", "is_sar"
    )
    t0 = time.perf_counter()
    fr = account_features(tx)
    t1 = time.perf_counter()
    res = detect_outliers(fr.frame, descriptions=fr.descriptions)
    t2 = time.perf_counter()
    table = res.scores.join(alerts, on=S.ACCOUNT_ID, how="left")
    y = table["is_sar"].fill_null(False).to_numpy()
    n_pos = int(alerts["is_sar"].sum())
    k = 2 * n_pos
    print(f"accounts {table.height:,}, positives among them {int(y.sum())} (labels: {n_pos})")
    print(f"features {t1 - t0:.2f}s, outliers {t2 - t1:.2f}s; notices: {fr.notices}")
    print(f"AP outlier ensemble: {average_precision_score(y, table['outlier_score']):.3f}")
    for col in [c for c in table.columns if c.endswith("_score") and c != "outlier_score"]:
        print(f"  AP {col}: {average_precision_score(y, table[col]):.3f}")
    base = fr.frame.select("in_count", "out_count", "in_total", "out_total").to_numpy()
    forest = IForest(random_state=0).fit(base)
    print(
        f"AP IsolationForest on in/out counts and sums: "
        f"{average_precision_score(y, forest.decision_scores_):.3f}; base rate {y.mean():.3f}"
    )
    top = table.filter(pl.col("outlier_rank") <= k)
    per_type = (
        alerts.filter(pl.col("is_sar"))
        .group_by("alert_type")
        .agg(pl.len().alias("members"))
        .join(
            top.filter(pl.col("is_sar").fill_null(False)).group_by("alert_type").len(),
            on="alert_type",
            how="left",
        )
        .sort("alert_type")
    )
    for typ, members, hit in per_type.iter_rows():
        print(f"  recall@{k} {typ}: {(hit or 0) / members:.2f}")
    looks = int((~top["is_sar"].fill_null(True)).sum())
    print(
        f"look-alike (is_sar=False) members in top {k}: {looks} of {int((~alerts['is_sar']).sum())}"
    )


def generated(directory: str) -> None:
    """The same yardstick on ``moneytrail generate`` output (labels.csv: planted accounts)."""
    from pyod.models.iforest import IForest
    from sklearn.metrics import average_precision_score

    from moneytrail.features import account_features
    from moneytrail.outliers import detect_outliers

    d = Path(directory)

    def table(stem: str) -> pl.DataFrame:
        path = d / f"{stem}.parquet"
        return pl.read_parquet(path) if path.exists() else pl.read_csv(d / f"{stem}.csv")

    tx = table("transactions").drop(S.LABEL_COLUMNS, strict=False)
    if tx.schema[S.TIMESTAMP] == pl.String:
        tx = tx.with_columns(pl.col(S.TIMESTAMP).str.to_datetime(time_unit="us"))
    accounts = table("accounts")
    if S.OPENED_AT in accounts.columns and accounts.schema[S.OPENED_AT] == pl.String:
        accounts = accounts.with_columns(pl.col(S.OPENED_AT).str.to_date())
    labels = pl.read_csv(d / "labels.csv").unique(S.LB_ACCOUNT)
    fr = account_features(tx.lazy(), accounts)
    res = detect_outliers(fr.frame, descriptions=fr.descriptions)
    table_ = res.scores.join(labels, on=S.ACCOUNT_ID, how="left")
    y = table_[S.LB_TYPOLOGY].is_not_null().to_numpy()
    k = 2 * int(y.sum())
    print(f"accounts {table_.height:,}, planted {int(y.sum())}, base rate {y.mean():.3f}")
    print(f"AP outlier ensemble: {average_precision_score(y, table_['outlier_score']):.3f}")
    base = fr.frame.join(labels, on=S.ACCOUNT_ID, how="left")
    forest = IForest(random_state=0).fit(
        base.select("in_count", "out_count", "in_total", "out_total").to_numpy()
    )
    yb = base[S.LB_TYPOLOGY].is_not_null().to_numpy()
    print(
        "AP IsolationForest on in/out counts and sums: "
        f"{average_precision_score(yb, forest.decision_scores_):.3f}"
    )
    top = table_.filter(pl.col("outlier_rank") <= k)
    per_type = (
        labels.group_by(S.LB_TYPOLOGY)
        .len()
        .join(top.group_by(S.LB_TYPOLOGY).len(), on=S.LB_TYPOLOGY, how="left")
        .sort(S.LB_TYPOLOGY)
    )
    for typ, members, hit in per_type.iter_rows():
        print(f"  recall@{k} {typ}: {(hit or 0) / members:.2f}")
    look = d / "lookalikes.csv"
    if look.exists():
        groups = top.join(pl.read_csv(look), on=S.ACCOUNT_ID).group_by("group").len()
        print(f"look-alikes in top {k}: {sorted(groups.rows(), key=lambda r: -r[1])}")


def amlsim_2019(directory: str, constant_amount: bool) -> None:
    """The yardstick on an old-format AMLSim set (nodes.csv isFraud; steps are days)."""
    from pyod.models.iforest import IForest
    from sklearn.metrics import average_precision_score

    from moneytrail.features import account_features
    from moneytrail.outliers import detect_outliers

    d = Path(directory)
    # amounts under 100 are all fraud in these sets: optionally blank them out
    amount = pl.lit(500.0) if constant_amount else pl.col("value").cast(pl.Float64)
    tx = pl.scan_csv(d / "transactions.csv").select(
        (pl.datetime(2018, 1, 1) + pl.duration(days=pl.col("time")))
        .cast(pl.Datetime("us"))
        .alias(S.TIMESTAMP),
        amount.alias(S.AMOUNT),
        pl.col("sourceNodeId").cast(pl.String).alias(S.FROM_ACCOUNT),
        pl.col("targetNodeId").cast(pl.String).alias(S.TO_ACCOUNT),
    )
    nodes = pl.read_csv(d / "nodes.csv").select(
        pl.col("nodeid").cast(pl.String).alias(S.ACCOUNT_ID),
        pl.col("isFraud").cast(pl.Boolean).alias("_fraud"),
    )
    fr = account_features(tx)
    res = detect_outliers(fr.frame)
    table = res.scores.join(nodes, on=S.ACCOUNT_ID, how="left")
    y = table["_fraud"].fill_null(False).to_numpy()
    k = 2 * int(y.sum())
    recall = table.filter(pl.col("outlier_rank") <= k)["_fraud"].fill_null(False).sum() / y.sum()
    base = fr.frame.join(nodes, on=S.ACCOUNT_ID, how="left")
    forest = IForest(random_state=0).fit(
        base.select("in_count", "out_count", "in_total", "out_total").to_numpy()
    )
    base_ap = average_precision_score(base["_fraud"].fill_null(False), forest.decision_scores_)
    print(
        f"{d.name} (constant amount: {constant_amount}): accounts {table.height:,}, "
        f"fraud {int(y.sum())}, AP outlier ensemble "
        f"{average_precision_score(y, table['outlier_score']):.3f}, recall@{k} {recall:.2f}; "
        f"AP IsolationForest on in/out counts and sums {base_ap:.3f}; base rate {y.mean():.3f}"
    )


def compare(old_path: str, new_path: str, tolerance: float = 1e-9) -> bool:
    """Two feature frames (e.g. ``--stage features`` output of two versions on one
    file) hold the same accounts, columns in the same order, the same nulls and
    values equal to ``tolerance`` (relative, absolute below 1)."""
    old, new = pl.read_parquet(old_path), pl.read_parquet(new_path)
    same = old.columns == new.columns and old.height == new.height
    print(f"same columns in order: {old.columns == new.columns}; rows {old.height}, {new.height}")
    if not same or not old.get_column(S.ACCOUNT_ID).equals(new.get_column(S.ACCOUNT_ID)):
        print("accounts or columns differ")
        return False
    worst = 0.0
    for name in old.columns[1:]:
        a = old.get_column(name).cast(pl.Float64).to_numpy()
        b = new.get_column(name).cast(pl.Float64).to_numpy()
        nulls = int((np.isnan(a) != np.isnan(b)).sum())
        both = ~np.isnan(a) & ~np.isnan(b)
        rel = np.abs(a[both] - b[both]) / np.maximum(1.0, np.abs(a[both]))
        largest = float(rel.max()) if rel.size else 0.0
        worst = max(worst, largest)
        if nulls or largest > tolerance:
            same = False
            print(f"  {name}: {nulls} null mismatches, largest difference {largest:.3g}")
    print(f"largest relative difference {worst:.3g}: {'same' if same else 'DIFFERENT'}")
    return same


def compare_scores(old_path: str, new_path: str) -> None:
    """Top-k overlap of two outlier rankings of the same accounts, at the default
    review budget (1 % of the accounts, at least ``min_top_k``) and a tenth of it."""
    from moneytrail.outliers import DEFAULTS, RANK, _budget

    old, new = pl.read_parquet(old_path), pl.read_parquet(new_path)
    budget = _budget(DEFAULTS, old.height)
    for k in sorted({budget, max(1, budget // 10)}, reverse=True):
        top_old = set(old.filter(pl.col(RANK) <= k).get_column(S.ACCOUNT_ID))
        top_new = set(new.filter(pl.col(RANK) <= k).get_column(S.ACCOUNT_ID))
        print(f"top-{k} overlap: {len(top_old & top_new) / k:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=None, help="default: rows / 10")
    ap.add_argument(
        "--amlsim", help="an AMLSim output folder (transactions.csv, alert_accounts.csv)"
    )
    ap.add_argument("--generated", help="a `moneytrail generate` output folder")
    ap.add_argument("--amlsim-2019", help="an old-format AMLSim folder (nodes.csv)")
    ap.add_argument("--constant-amount", action="store_true", help="with --amlsim-2019")
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="two features files")
    ap.add_argument(
        "--compare-scores", nargs=2, metavar=("OLD", "NEW"), help="two outlier score files"
    )
    ap.add_argument("--keep", help="keep transactions, features and scores in this folder")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.stage, args.path)))
    elif args.compare:
        sys.exit(0 if compare(*args.compare) else 1)
    elif args.compare_scores:
        compare_scores(*args.compare_scores)
    elif args.amlsim:
        amlsim(args.amlsim)
    elif args.amlsim_2019:
        amlsim_2019(args.amlsim_2019, args.constant_amount)
    elif args.generated:
        generated(args.generated)
    else:
        speed(args.rows, args.accounts or args.rows // 10, args.keep)


if __name__ == "__main__":
    main()
