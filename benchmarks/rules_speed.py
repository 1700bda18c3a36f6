"""Speed of the whole rule catalogue over a large canonical table.

    python benchmarks/rules_speed.py [--rows 5000000] [--days 180] [--per-rule]

Generates a labelled synthetic export with ``moneytrail.synth.generate`` (Parquet,
about ``--rows`` transactions; cached in benchmarks/.data/rules/ so a second run
skips it), then runs every catalogue rule with ``run_rules`` (the input read once, the
views built once in memory) and prints wall time and CPU time (the box is shared, so CPU
time is the steadier figure) next to a yardstick: one scan of the same file with
one group-by. ``--per-rule`` then collects each rule's query on its own and lists
the costliest rules (for tuning the catalogue), over the same in-memory views.
``--save-hits FILE`` writes each rule's hit accounts; ``--compare-hits FILE`` lists, per
rule, the accounts gained or lost against such a file (for checking that a speed-up
keeps the hits).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import polars as pl

from moneytrail import schema as S
from moneytrail.rules import load_rules, run_rules
from moneytrail.rules import views as V
from moneytrail.rules.compiler import (
    _columns_read,
    _movements_by_account,
    compile_rule,
    needs_kyc,
    rule_query,
)

DATA_DIR = Path(__file__).parent / ".data" / "rules"
ROWS_PER_ACCOUNT_DAY = 0.77  # the generator's default population mix


class Clock:
    """Wall and CPU seconds of a block (CPU: this process and its threads)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), _cpu()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = _cpu() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:6.2f} s wall, {self.cpu:6.2f} s CPU"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dataset(rows: int, days: int, seed: int) -> Path:
    from moneytrail.synth import generate

    folder = DATA_DIR / f"rows{rows}_days{days}_seed{seed}"
    if not (folder / "transactions.parquet").exists():
        accounts = max(1000, round(rows / (ROWS_PER_ACCOUNT_DAY * days)))
        with Clock() as clock:
            generate(folder, n_accounts=accounts, days=days, seed=seed, fmt="parquet")
        print(f"generated {accounts:,} accounts into {folder}: {clock}")
    return folder


def compare_hits(before: pl.DataFrame, after: pl.DataFrame) -> int:
    """Print per rule the hit accounts only one run found; return how many rules differ."""
    key = [S.EV_CODE, S.EV_ACCOUNT]
    lost = before.join(after, on=key, how="anti").group_by(S.EV_CODE).len("lost")
    new = after.join(before, on=key, how="anti").group_by(S.EV_CODE).len("new")
    diff = lost.join(new, on=S.EV_CODE, how="full", coalesce=True).fill_null(0).sort(S.EV_CODE)
    print(
        f"  hit comparison: {before.height:,} (rule, account) hits before, {after.height:,} now; "
        f"{diff.height} rule(s) differ"
    )
    for code, n_lost, n_new in diff.iter_rows():
        print(f"    {code:16} lost {n_lost:6}  new {n_new:6}")
    return diff.height


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rules", type=Path, default=None, help="rules folder (default: catalogue)")
    ap.add_argument("--per-rule", action="store_true", help="also time each rule on its own")
    ap.add_argument(
        "--save-hits", type=Path, default=None, help="write each rule's hit accounts (parquet)"
    )
    ap.add_argument(
        "--compare-hits",
        type=Path,
        default=None,
        help="compare each rule's hit accounts with a file written by --save-hits",
    )
    args = ap.parse_args(argv)

    folder = dataset(args.rows, args.days, args.seed)
    path = folder / "transactions.parquet"
    transactions = pl.scan_parquet(path)
    accounts = pl.read_parquet(folder / "accounts.parquet")
    n_rows = transactions.select(pl.len()).collect().item()
    ruleset = load_rules(args.rules)
    print(f"{n_rows:,} transactions, {accounts.height:,} accounts, {len(ruleset.rules)} rules")
    if ruleset.problems:
        print(f"{len(ruleset.problems)} rule file problem(s) skipped", file=sys.stderr)

    with Clock() as bare:
        pl.scan_parquet(path).group_by(S.FROM_ACCOUNT).agg(
            pl.len(), pl.col(S.AMOUNT).sum()
        ).collect()
    print(f"yardstick (scan + one group-by):   {bare}")

    with Clock() as clock:
        result = run_rules(transactions, ruleset, accounts=accounts)
    print(f"run_rules (all rules, one pass):   {clock}")
    print(f"  = {clock.wall / max(bare.wall, 1e-9):.1f}x the yardstick's wall time")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  ran {len(result.ran)}, skipped {len(result.skipped)}, errors {len(result.errors)}; "
        f"{result.evidence.height:,} evidence rows; peak RSS {peak_mb:,.0f} MB"
    )
    for code, message in result.errors:
        print(f"  error {code}: {message}")
    hits = result.evidence.select(S.EV_CODE, S.EV_ACCOUNT).unique()
    if args.save_hits:
        hits.write_parquet(args.save_hits)
        print(f"  hit accounts per rule written to {args.save_hits}")
    if args.compare_hits:
        compare_hits(pl.read_parquet(args.compare_hits), hits)

    if args.per_rule:
        # Each rule's query over the same in-memory views run_rules builds.
        base = (
            V.canonical(pl.scan_parquet(path))
            .select(V.base_columns(_columns_read(ruleset.rules)))
            .collect()
            .rechunk()
        )
        movements, _ = _movements_by_account(base)
        with_kyc = V.with_kyc(movements, V.canonical_accounts(accounts))
        timings = []
        for rule in ruleset.rules:
            if not rule.runs or rule.id not in result.ran:
                continue
            view = base.lazy() if rule.view == "transactions" else movements
            if rule.view == "movements" and needs_kyc(rule):
                view = with_kyc
            with Clock() as one:
                sorted_view = rule.view == "movements"
                rule_query(compile_rule(rule), view, sorted_view, materialize=True).collect()
            timings.append((one.cpu, one.wall, rule.id, result.hits.get(rule.id, 0)))
        print("\ncostliest rules on their own (CPU s, wall s, hits):")
        for cpu, wall, code, hits in sorted(timings, reverse=True)[:15]:
            print(f"  {code:16} {cpu:6.2f} {wall:6.2f} {hits:6}")
        print(f"  sum of all rules on their own: {sum(t[0] for t in timings):.2f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
