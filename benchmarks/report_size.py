"""Report size, time and peak memory for a large scan.

Builds a synthetic OUTDIR that follows the scan contract and resembles the
output of a 5 M-row scan (500 k accounts, 1 % alerted, 2,000 cases of 2-40
accounts with up to 5,000 transactions each, ~200 k evidence rows), then
times ``write_report``, ``explore`` and the exports on it, each in a fresh
interpreter so CPU seconds and peak RSS are that step's alone.

    python benchmarks/report_size.py --rows 5000000 --out /tmp/big_scan
    python benchmarks/report_size.py --reuse /tmp/big_scan --held   # a real scan's OUTDIR too

``--held`` also times the report the way a scan can call it, on the tables
it holds (cases, scores, alerts, evidence, rules; transactions stay a lazy
scan of the Parquet file): they are loaded before the clock starts, and the
RSS line says how much the report adds to them.

Numbers depend on the machine; the page size depends only on the caps in
moneytrail.report.html.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from moneytrail import schema as S

CHANNELS = list(S.CHANNELS)


def pick(rng, options: list, n: int) -> pl.Series:
    """n random draws from options (None allowed) as a String column."""
    return pl.Series(options, dtype=pl.String).gather(rng.integers(0, len(options), n))


def build_outdir(out: Path, rows: int, accounts: int, n_cases: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    sizes = np.clip(rng.geometric(0.15, n_cases) + 1, 2, 40)
    members = rng.permutation(accounts)[: int(sizes.sum())]  # case members, all alerted
    case_of_member = np.repeat(np.arange(n_cases), sizes)
    # transactions inside cases: heavy-tailed counts, capped at 5,000 per case
    per_case = np.clip((rng.pareto(1.2, n_cases) * 60).astype(int) + 20, 20, 5000)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    case_rows = int(per_case.sum())
    case_idx = np.repeat(np.arange(n_cases), per_case)
    pick_a = starts[case_idx] + (rng.random(case_rows) * sizes[case_idx]).astype(int)
    pick_b = starts[case_idx] + (rng.random(case_rows) * sizes[case_idx]).astype(int)
    background = rows - case_rows
    src = np.concatenate([rng.integers(0, accounts, background), members[pick_a]])
    dst = np.concatenate([rng.integers(0, accounts, background), members[pick_b]])
    start = datetime(2024, 1, 1)
    seconds = rng.integers(0, 365 * 86400, rows)
    txns = pl.DataFrame(
        {
            S.TXN_ID: pl.int_range(0, rows, eager=True).cast(pl.String).str.zfill(9),
            S.TIMESTAMP: pl.Series(seconds * 1_000_000).cast(pl.Duration("us")) + start,
            S.AMOUNT: np.round(rng.lognormal(4.0, 1.3, rows), 2),
            S.CURRENCY: ["USD"] * rows,
            S.FROM_ACCOUNT: src,
            S.TO_ACCOUNT: dst,
            S.CHANNEL: pick(rng, CHANNELS, rows),
            S.MEMO: pick(rng, ["rent", "groceries", "thanks", None, "loan <b>back</b>"], rows),
            S.MERCHANT: pick(rng, [None, None, "Motel 6", "Quick Mart"], rows),
            S.LOCATION_CITY: pick(rng, [None, "Reno", "Austin", "Fresno"], rows),
        }
    ).with_columns(
        pl.format("A{}", pl.col(S.FROM_ACCOUNT)).alias(S.FROM_ACCOUNT),
        pl.format("A{}", pl.col(S.TO_ACCOUNT)).alias(S.TO_ACCOUNT),
        pl.col(S.CHANNEL).cast(S.CHANNEL_DTYPE),
    )
    txns.write_parquet(out / S.TRANSACTIONS_FILE)

    case_txns = txns.slice(background).with_columns(
        pl.Series("case", case_idx).alias("case")
    )
    risk = np.sort(rng.beta(0.6, 12.0, accounts))[::-1]
    ranked = np.concatenate([members, np.setdiff1d(np.arange(accounts), members)])
    risk[: len(members)] = np.sort(rng.uniform(0.6, 1.0, len(members)))[::-1]
    ids = [f"A{i}" for i in ranked]
    levels = np.select([risk >= 0.9, risk >= 0.75, risk >= 0.5, risk >= 0.1],
                       ["critical", "high", "medium", "low"], "none")
    scores = pl.DataFrame({
        S.SC_ACCOUNT: ids, S.SC_RISK: risk, S.SC_RANK: np.arange(1, accounts + 1),
        S.SC_LEVEL: levels, S.SC_ROLE: rng.choice(["", "collector", "victim", "controller"],
                                                  accounts),
        S.SC_N_EVIDENCE: rng.integers(0, 9, accounts),
        S.SC_CODES: rng.choice(["HT-P2P-01;fan_in", "HT-CASH-01", "ecod", ""], accounts),
        S.SC_REASONS: rng.choice(["12 p2p payments from 9 accounts totalling 4,210 | "
                                  "night-time share 0.8", "cash in, cash out within 24h", ""],
                                 accounts),
    })
    scores.write_csv(out / S.SCORES_FILE)

    case_ids = [f"C{i + 1:05d}" for i in range(n_cases)]
    member_ids = [f"A{m}" for m in members]
    alerts = scores.head(len(members)).with_columns(
        pl.col(S.SC_ACCOUNT).replace_strict(
            dict(zip(member_ids, [case_ids[c] for c in case_of_member], strict=True)),
            default=None).alias(S.SC_CASE)
    )
    alerts.write_csv(out / S.ALERTS_FILE)

    links = (
        case_txns.group_by("case", S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .agg(pl.len().alias("n"), pl.col(S.AMOUNT).sum().alias("total"),
             pl.col(S.TIMESTAMP).min().dt.strftime("%Y-%m-%dT%H:%M:%S").alias("first"),
             pl.col(S.TIMESTAMP).max().dt.strftime("%Y-%m-%dT%H:%M:%S").alias("last"))
        .sort("case")
        .partition_by("case", as_dict=True)
    )
    txn_lists = dict(case_txns.group_by("case").agg(pl.col(S.TXN_ID)).iter_rows())
    risk_of = dict(zip(ids[: len(members)], risk[: len(members)].tolist(), strict=True))
    cases = []
    for c in range(n_cases):
        accts = member_ids[starts[c]: starts[c] + sizes[c]]
        link_rows = links[(c,)].drop("case").rename(
            {S.FROM_ACCOUNT: "from", S.TO_ACCOUNT: "to"}).to_dicts()
        total = float(sum(r["total"] for r in link_rows))
        cases.append({
            "case_id": case_ids[c], "score": float(max(risk_of[a] for a in accts)),
            "level": "high", "summary": f"{len(accts)} accounts, {total:,.0f} USD, fan_in",
            "accounts": [{"account_id": a, "risk_score": risk_of[a], "rank": None,
                          "level": "high", "role": "collector", "codes": ["HT-P2P-01"]}
                         for a in accts],
            "n_accounts": len(accts), "total_value": total, "currency": "USD",
            "window_start": "2024-01-01T00:00:00", "window_end": "2024-12-31T00:00:00",
            "codes": ["HT-P2P-01", "fan_in"], "typologies": ["fan_in"], "links": link_rows,
            "shared_identifiers": [], "txn_ids": txn_lists[c],
        })
    cases.sort(key=lambda x: -x["score"])
    (out / S.CASES_FILE).write_text(json.dumps({"cases": cases}), encoding="utf-8")

    # evidence: 6 rows per alerted account with supporting txns, outliers elsewhere
    n_ev = len(members) * 6
    ev_members = np.repeat(members, 6)
    n_out = min(accounts, 150_000)
    evidence = pl.DataFrame({
        S.EV_ACCOUNT: [f"A{m}" for m in ev_members]
        + [f"A{m}" for m in rng.integers(0, accounts, n_out)],
        S.EV_DETECTOR: ["rule"] * n_ev + ["outlier"] * n_out,
        S.EV_CODE: list(rng.choice(["HT-P2P-01", "HT-CASH-01", "HT-HOTEL-04", "fan_in"], n_ev))
        + ["ecod"] * n_out,
        S.EV_SCORE: rng.uniform(0.1, 1.0, n_ev + n_out),
        S.EV_SEVERITY: rng.choice(list(S.SEVERITIES), n_ev + n_out),
        S.EV_WINDOW_START: [start] * (n_ev + n_out),
        S.EV_WINDOW_END: [start] * (n_ev + n_out),
        S.EV_TXN_IDS: [[f"{k:09d}" for k in range(j, j + 30)] for j in range(n_ev)]
        + [[] for _ in range(n_out)],
        S.EV_REASON: ["14 payments from 9 unrelated senders totalling 6,120 within 7 days"]
        * (n_ev + n_out),
        S.EV_INSTANCE: [None] * (n_ev + n_out),
        S.EV_ROLE: [None] * (n_ev + n_out),
    }, schema=S.EVIDENCE_SCHEMA)
    evidence.write_parquet(out / S.EVIDENCE_FILE)
    pl.DataFrame(schema=S.QUARANTINE_SCHEMA).write_csv(out / S.QUARANTINE_FILE)
    (out / S.MANIFEST_FILE).write_text(json.dumps({
        "tool": "moneytrail", "version": "bench", "created": datetime.now().isoformat(),
        "inputs": [{"path": "synthetic", "sha256": "0" * 64, "rows_read": rows,
                    "rows_accepted": rows, "rows_quarantined": 0}],
        "profile": None, "profile_detected": "canonical", "accounts_file": None,
        "rules": {"dir": None, "ran": ["HT-P2P-01", "HT-CASH-01", "HT-HOTEL-04"],
                  "skipped": [], "broken": []},
        "params": {}, "counts": {"transactions": rows, "accounts_scored": accounts,
                                 "evidence": evidence.height, "alerts": alerts.height,
                                 "cases": n_cases},
        "timings": {}, "thresholds": {},
    }), encoding="utf-8")
    return out


STEP_CODE = r"""
import json, resource, sys, time
from pathlib import Path

def rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0

step, out = sys.argv[1], Path(sys.argv[2])
extra = {}
held = None
if step == "held":
    import polars as pl
    from moneytrail import schema as S
    from moneytrail.report.scan_output import load_scan
    from moneytrail.rules import load_rules
    base = load_scan(out)
    held = dict(manifest=base.manifest, cases=list(base.cases), scores=base.scores,
                alerts=base.alerts, evidence=base.evidence.collect(),
                transactions=pl.scan_parquet(out / S.TRANSACTIONS_FILE),
                quarantine_rows=base.quarantine_rows,
                rules=load_rules((base.manifest.get("rules") or {}).get("dir")).rules)
    del base
    extra["held_rss_mb"] = rss_mb()
usage0 = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
if step in ("report", "held"):
    from moneytrail.report import write_report
    if held is not None:
        from moneytrail.report import scan_in_memory
        paths = [write_report(out, scan=scan_in_memory(out, **held))]
    else:
        paths = [write_report(out)]
elif step == "explore":
    from moneytrail.report import explore
    top = json.loads((out / "cases.json").read_text())["cases"][0]["accounts"][0]
    paths = [explore(out, top["account_id"], hops=2, out=out / "explore.html")]
else:
    from moneytrail.report import export
    paths = export(out, step, out / "exports" / step, top_cases=20)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "wall_s": time.perf_counter() - started,
    "cpu_s": usage.ru_utime + usage.ru_stime - usage0.ru_utime - usage0.ru_stime,
    "peak_rss_mb": usage.ru_maxrss / 1024,
    "files": len(paths), "mb": sum(Path(p).stat().st_size for p in paths) / 1e6, **extra,
}))
"""


def run_step(step: str, out: Path) -> dict:
    """One step in a fresh interpreter (imports included, as for a CLI command)."""
    done = subprocess.run([sys.executable, "-c", STEP_CODE, step, str(out)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def show(name: str, r: dict) -> None:
    line = (f"{name}: {r['files']} file(s), {r['mb']:.2f} MB; wall {r['wall_s']:.1f} s, "
            f"CPU {r['cpu_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    if "held_rss_mb" in r:
        line += f" (tables held before: {r['held_rss_mb']:.0f} MB)"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--accounts", type=int, default=None, help="default rows / 10")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="keep the OUTDIR here")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="time an existing OUTDIR (built before, or a real scan's)")
    parser.add_argument("--held", action="store_true",
                        help="also time the report on the tables a scan holds")
    parser.add_argument("--exports", action="store_true", help="also time every export")
    args = parser.parse_args()

    out = args.reuse or args.out or Path(tempfile.mkdtemp(prefix="mt_report_bench_"))
    try:
        if args.reuse is None:
            t = time.perf_counter()
            build_outdir(out, args.rows, args.accounts or args.rows // 10, args.cases)
            print(f"built OUTDIR ({args.rows:,} rows) in {time.perf_counter() - t:.1f} s: {out}")
        show("report.html (read from OUTDIR)", run_step("report", out))
        if args.held:
            show("report.html (tables held)", run_step("held", out))
        show("explore (2 hops)", run_step("explore", out))
        if args.exports:
            for fmt in ("goaml", "sar", "i2", "gexf", "graphml", "ftm"):
                show(f"export {fmt}", run_step(fmt, out))
    finally:
        if args.out is None and args.reuse is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
