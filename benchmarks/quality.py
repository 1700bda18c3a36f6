"""Quality benchmark: moneytrail's default scan against labelled data and two naive baselines.

    python benchmarks/quality.py                       # everything (several minutes)
    python benchmarks/quality.py --only amlsim_small --seeds 7

Data sets: IBM AMLSim ``amlsim_small`` (labels: members of is_sar=True alerts;
is_sar=False alerts are the look-alikes), the three upstream AMLSim 20K sets
(labels: nodes.csv isFraud), each also with every amount replaced by one
constant (the 20K sets leak labels through amounts under 100, see their README),
and data from ``moneytrail generate`` with several seeds. Every scan runs with
the product's default settings: nothing here is tuned per data set.

Prints markdown tables (summary next to the baselines, recall per typology,
what the hits and misses carry, the most telling codes and features) and writes
all numbers as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baselines import BASELINES, CEILING, alert_structure_ceiling  # noqa: E402

from moneytrail import schema as S  # noqa: E402
from moneytrail.evaluate import (  # noqa: E402
    CASE_LIST_BUDGET,
    Evaluation,
    evaluate,
    read_case_of,
    read_features,
    read_labels,
    read_scores,
)

DEFAULT_DATA = Path(os.environ.get("MONEYTRAIL_DATA", HERE.parent.parent / "shared" / "data"))
PRODUCT = "moneytrail"
KS = (50, 100, 500)
SHOWN_CODES = 8
SHOWN_FEATURES = 6


@dataclass
class DataSet:
    name: str
    inputs: list[Path]
    labels: Path
    accounts: Path | None = None
    # AMLSim alert_transactions.csv: lets the benchmark show the label-free ceiling.
    alert_transactions: Path | None = None
    # Called in the work dir before the scan (generation, amount blanking).
    prepare: object = None
    notes: str = ""
    results: dict = field(default_factory=dict)


def external_sets(data: Path, amount_variants: bool) -> list[DataSet]:
    sets = []
    small = data / "amlsim_small"
    if small.exists():
        sets.append(
            DataSet(
                "amlsim_small",
                [small / "transactions.csv"],
                small / "alert_accounts.csv",
                alert_transactions=small / "alert_transactions.csv",
                notes="positives = members of is_sar=True alerts (874)",
            )
        )
    upstream = data / "amlsim_upstream_20k"
    for folder in ("20K_cycle200", "20K_fanin200", "20K_fanin200cycle200"):
        source = upstream / folder
        if not source.exists():
            continue
        sets.append(DataSet(f"amlsim{folder}", [source / "transactions.csv"], source / "nodes.csv"))
        if amount_variants:
            sets.append(
                DataSet(
                    f"amlsim{folder}-flat-amounts",
                    [source / "transactions.csv"],
                    source / "nodes.csv",
                    prepare=_flat_amounts,
                    notes="every amount set to 100: no amount leak",
                )
            )
    return sets


def _flat_amounts(dataset: DataSet, work: Path) -> None:
    """The 20K sets mark fraud edges by amounts under 100; take amounts away entirely."""
    target = work / "transactions.csv"
    pl.read_csv(dataset.inputs[0], infer_schema=False).with_columns(
        pl.lit("100.00").alias("value")
    ).write_csv(target)
    dataset.inputs = [target]


def _reuse_prepared(dataset: DataSet, work: Path) -> None:
    """Point a prepared data set at the files an earlier run made in ``work``."""
    if (work / "data" / "labels.csv").exists():
        dataset.labels = work / "data" / "labels.csv"
        dataset.accounts = work / "data" / "accounts.csv"
        dataset.inputs = [work / "data" / "transactions.csv"]
    elif (work / "transactions.csv").exists():
        dataset.inputs = [work / "transactions.csv"]


def generated_sets(seeds: list[int], n_accounts: int, days: int) -> list[DataSet]:
    sets = []
    for seed in seeds:

        def prepare(dataset: DataSet, work: Path, seed=seed) -> None:
            from moneytrail.synth import generate

            generate(work / "data", n_accounts=n_accounts, days=days, seed=seed, fmt="csv")
            dataset.inputs = [work / "data" / "transactions.csv"]
            dataset.accounts = work / "data" / "accounts.csv"
            dataset.labels = work / "data" / "labels.csv"

        sets.append(
            DataSet(
                f"generated-seed{seed}",
                [],
                Path(),
                prepare=prepare,
                notes=f"{n_accounts} accounts, {days} days",
            )
        )
    return sets


def run_one(dataset: DataSet, work: Path, reuse: bool = False) -> dict:
    from moneytrail.scan import run_scan

    work.mkdir(parents=True, exist_ok=True)
    outdir = work / "scan"
    done_marker = work / "scan_seconds.txt"
    if dataset.prepare is not None and not (reuse and done_marker.exists()):
        dataset.prepare(dataset, work)
    elif dataset.prepare is not None:
        _reuse_prepared(dataset, work)
    if reuse and done_marker.exists():
        scan_seconds = float(done_marker.read_text())
    else:
        started = time.perf_counter()
        kwargs = {"accounts": dataset.accounts, "progress": False}
        try:
            run_scan(dataset.inputs, outdir, report=False, **kwargs)
        except TypeError:  # a scan without the report switch
            run_scan(dataset.inputs, outdir, **kwargs)
        scan_seconds = time.perf_counter() - started
        done_marker.write_text(f"{scan_seconds:.3f}")
    labels = read_labels(dataset.labels)
    scores = read_scores(outdir)
    results = {
        PRODUCT: evaluate(
            scores, labels, ks=KS, features=read_features(outdir), case_of=read_case_of(outdir)
        ),
    }
    transactions = pl.scan_parquet(outdir / S.TRANSACTIONS_FILE)
    ids = scores.get_column(S.SC_ACCOUNT)
    for name, baseline in BASELINES.items():
        results[name] = evaluate(baseline(transactions, ids), labels, ks=KS)
    if dataset.alert_transactions is not None:
        ceiling = alert_structure_ceiling(dataset.alert_transactions, ids)
        results[CEILING] = evaluate(ceiling, labels, ks=KS)
    return {"scan_seconds": scan_seconds, "evaluations": results}


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------
def _f(value, digits=3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _md(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(done: list[DataSet]) -> str:
    rows = []
    for ds in done:
        for method, ev in ds.results["evaluations"].items():
            at = ev.at_2x
            worst = min(at["recall_by_typology"].items(), key=lambda kv: kv[1], default=None)
            cases = ev.case_summary
            core20 = reached = landed = by_case = read = "–"
            if cases.get("n_cases"):
                landed = f"{cases.get('cases_with_core_in_a_scan_case')}/{cases['n_cases']}"
                core20 = f"{cases['cases_with_core_in_top_k']['20']}/{cases['n_cases']}"
                reached = f"{cases['cases_with_under_20_false_alarms_ahead']}/{cases['n_cases']}"
                by_case = f"{cases.get('cases_under_budget_false_cases_ahead')}/{cases['n_cases']}"
                read = f"{cases.get('cases_with_under_20_unlabelled_read')}/{cases['n_cases']}"
            rows.append(
                [
                    ds.name if method == PRODUCT else "",
                    method,
                    _f(ev.average_precision),
                    _f(ev.roc_auc),
                    _f(at["precision"]),
                    _f(at["recall"]),
                    f"{_f(worst[1])} ({worst[0]})" if worst else "–",
                    f"{at['lookalikes_in_top_k']}/{ev.n_lookalikes}" if ev.n_lookalikes else "–",
                    core20 if method == PRODUCT else "",
                    reached if method == PRODUCT else "",
                    landed if method == PRODUCT else "",
                    by_case if method == PRODUCT else "",
                    read if method == PRODUCT else "",
                    _f(ds.results["scan_seconds"], 1) if method == PRODUCT else "",
                ]
            )
    return _md(
        [
            "data set",
            "method",
            "AP",
            "ROC-AUC",
            "P@2x",
            "R@2x",
            "worst typology R@2x",
            "look-alikes in top 2x",
            "cases: core in top 20",
            "cases: < 20 unlabelled above core",
            "cases: core in a scan case",
            f"cases: < {CASE_LIST_BUDGET} false scan cases above",
            "cases: < 20 unlabelled in the cases read",
            "scan s",
        ],
        rows,
    )


def typology_table(done: list[DataSet]) -> str:
    rows = []
    for ds in done:
        evs: dict[str, Evaluation] = ds.results["evaluations"]
        product = evs[PRODUCT]
        for row in product.typologies:
            typology = row["typology"]
            rows.append(
                [
                    ds.name,
                    typology,
                    str(row["positives"]),
                    _f(row["average_precision"]),
                    *[
                        _f(evs[m].at_2x["recall_by_typology"].get(typology)) if m in evs else "–"
                        for m in [PRODUCT, *BASELINES, CEILING]
                    ],
                ]
            )
    methods = [*BASELINES, CEILING]
    return _md(
        ["data set", "typology", "positives", "AP (moneytrail)", "R@2x moneytrail"]
        + [f"R@2x {m}" for m in methods],
        rows,
    )


def _codes(items: list[dict]) -> str:
    return ", ".join(f"{c['code']} {c['share']:.0%}" for c in items) or "–"


def diagnostics_table(done: list[DataSet]) -> str:
    rows = []
    for ds in done:
        diag = ds.results["evaluations"][PRODUCT].diagnostics
        for typology, row in diag["typologies"].items():
            rows.append(
                [
                    ds.name,
                    typology,
                    str(row["hits"]),
                    str(row["misses"]),
                    _f(row["misses_without_evidence"], 2),
                    _codes(row["hit_codes"]),
                    _codes(row["miss_codes"]),
                ]
            )
        fp = diag["false_positives"]
        rows.append([ds.name, "(false positives)", str(fp["n"]), "", "", _codes(fp["codes"]), ""])
    return _md(
        [
            "data set",
            "typology",
            "hits@2x",
            "misses",
            "misses without evidence",
            "codes on hits",
            "codes on misses",
        ],
        rows,
    )


def codes_table(done: list[DataSet]) -> str:
    rows = []
    for ds in done:
        ev = ds.results["evaluations"][PRODUCT]
        for row in ev.codes[:SHOWN_CODES]:
            rows.append(
                [
                    ds.name,
                    row["code"],
                    str(row["accounts"]),
                    str(row["positives"]),
                    _f(row["precision"]),
                    _f(row["recall"]),
                    str(row["lookalikes"]),
                ]
            )
    return _md(
        ["data set", "code", "accounts", "positives", "precision", "recall", "look-alikes"], rows
    )


def features_table(done: list[DataSet]) -> str:
    rows = []
    for ds in done:
        ev = ds.results["evaluations"][PRODUCT]
        top = ev.features[:SHOWN_FEATURES]
        rows.append([ds.name, ", ".join(f"{r['feature']} {r['roc_auc']:.2f}" for r in top)])
    return _md(["data set", "features alone, ROC-AUC (0.5 = none)"], rows)


def targets(done: list[DataSet]) -> list[str]:
    """The issue's targets, checked against what was measured."""
    lines = []
    for ds in done:
        evs = ds.results["evaluations"]
        product = evs[PRODUCT]
        best_baseline = max((evs[m].average_precision or 0.0) for m in BASELINES)
        if CEILING in evs:
            line_ceiling = f"; label-free ceiling AP {_f(evs[CEILING].average_precision)}"
        else:
            line_ceiling = ""
        ratio = (product.average_precision or 0.0) / best_baseline if best_baseline else None
        worst = min(product.at_2x["recall_by_typology"].values(), default=None)
        line = (
            f"- {ds.name}: AP {_f(product.average_precision)}; "
            f"{_f(ratio, 1)}x the best baseline; "
            f"worst typology recall@2x {_f(worst)}{line_ceiling}"
        )
        if product.case_summary.get("n_cases"):
            cs = product.case_summary
            line += (
                f"; cases with a core account in the top 20: "
                f"{cs['cases_with_core_in_top_k']['20']}/{cs['n_cases']} "
                f"(worst best-core rank {_f(cs['worst_best_core_rank'])}); cases reached "
                f"with fewer than 20 unlabelled accounts above their core: "
                f"{cs['cases_with_under_20_false_alarms_ahead']}/{cs['n_cases']}; working the "
                f"scan's case list, cases reached with fewer than {CASE_LIST_BUDGET} scan cases "
                f"without a labelled account ahead: "
                f"{cs['cases_under_budget_false_cases_ahead']}/{cs['n_cases']}, and with "
                f"fewer than 20 unlabelled accounts in the cases read up to it: "
                f"{cs['cases_with_under_20_unlabelled_read']}/{cs['n_cases']} (median "
                f"{_f(cs['median_unlabelled_read'], 0)})"
            )
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--seeds", default="1,2,3", help="generator seeds, comma list")
    parser.add_argument("--accounts", type=int, default=5000, help="generated accounts")
    parser.add_argument("--days", type=int, default=180, help="generated days")
    parser.add_argument("--only", nargs="*", help="run only data sets whose name has one of these")
    parser.add_argument(
        "--no-flat-amounts", action="store_true", help="skip the 20K runs without amounts"
    )
    parser.add_argument("--json", type=Path, help="write all numbers here")
    parser.add_argument("--keep", type=Path, help="keep scan outputs in this folder")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: evaluate scans an earlier run left there instead of re-scanning",
    )
    args = parser.parse_args(argv)

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    sets = external_sets(args.data, amount_variants=not args.no_flat_amounts)
    sets += generated_sets(seeds, args.accounts, args.days)
    if args.only:
        sets = [ds for ds in sets if any(token in ds.name for token in args.only)]
    if not sets:
        print("no data sets to run", file=sys.stderr)
        return 1

    root = args.keep or Path(tempfile.mkdtemp(prefix="moneytrail-quality-"))
    done: list[DataSet] = []
    failed: list[str] = []
    try:
        for ds in sets:
            print(f"running {ds.name} ...", file=sys.stderr, flush=True)
            try:
                ds.results = run_one(ds, root / ds.name, reuse=args.reuse and bool(args.keep))
            except Exception as exc:  # one broken data set must not lose the others
                print(f"  {ds.name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                failed.append(ds.name)
                continue
            done.append(ds)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print(f"## Quality ({stamp}; {machine})\n")
    print("Default settings everywhere; k_2x = twice the number of labelled positives.\n")
    for ds in done:
        if ds.notes:
            print(f"- {ds.name}: {ds.notes}")
    print("\n### Summary\n")
    print(summary_table(done))
    print("\n### Recall per typology at k = 2x positives\n")
    print(typology_table(done))
    print("\n### What the hits and misses carry (moneytrail)\n")
    print(diagnostics_table(done))
    print("\n### Evidence codes carrying the most positives (moneytrail)\n")
    print(codes_table(done))
    print("\n### Features that separate best on their own\n")
    print(features_table(done))
    print("\n### Against the targets\n")
    print("\n".join(targets(done)))
    if failed:
        print(f"\nFailed (see stderr): {', '.join(failed)}")
    if args.json:
        payload = {
            "created": stamp,
            "machine": machine,
            "data_sets": {
                ds.name: {
                    "notes": ds.notes,
                    "scan_seconds": ds.results["scan_seconds"],
                    "evaluations": {m: ev.as_dict() for m, ev in ds.results["evaluations"].items()},
                }
                for ds in done
            },
        }
        args.json.write_text(json.dumps(payload, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
