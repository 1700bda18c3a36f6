"""The engine's cheap pre-check of windowed rules: it skips work, never a hit."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from moneytrail import schema as S
from moneytrail.rules import compiler, load_rules, run_rules
from moneytrail.rules.sql import having_lower_bounds
from moneytrail.rules.testdata import transactions_frame

RULE = {
    "title": "Windowed test rule",
    "status": "test",
    "severity": "medium",
    "description": "A windowed measure above a floor.",
    "references": [{"doc": "FIN-2020-A008", "section": "Financial indicators"}],
    "author": "moneytrail",
    "date": "2026-11-29",
    "falsepositives": ["Check the business type"],
    "level": "account",
    "requires": ["channel"],
    "group_by": "account",
    "params": {},
    "reason": "hit",
    # The format asks for self-tests; these rules are checked by the tests of this file.
    "tests": [
        {
            "name": "a burst fires",
            "expect": "fire",
            "transactions": [
                {
                    "timestamp": "2024-03-01 10:00",
                    "amount": 1000,
                    "from_account": "CASH",
                    "to_account": "A1",
                    "channel": "cash",
                    "repeat": 8,
                    "every": "1h",
                }
            ],
        },
        {
            "name": "one row stays quiet",
            "expect": "quiet",
            "transactions": [
                {
                    "timestamp": "2024-03-01 10:00",
                    "amount": 10,
                    "from_account": "CASH",
                    "to_account": "A1",
                    "channel": "cash",
                }
            ],
        },
    ],
}

# Each rule: id, where, window, aggregate, having. Thresholds sit near what the random
# data below reaches, so some accounts fire and many come close.
RULES = [
    ("TEST-COUNT-01", "channel = 'cash'", "7d", {"n": "count(*)"}, "n >= 4"),
    (
        "TEST-DIST-01",
        "direction = 'in'",
        "3d",
        {"senders": "count(DISTINCT counterparty)", "n": "count(*)"},
        "senders >= 3 AND n >= 2 * senders - 2",
    ),
    (
        "TEST-SUM-01",
        "TRUE",
        "36h",
        {
            "cash": "sum(CASE WHEN channel = 'cash' THEN amount ELSE 0 END)",
            "largest": "max(amount)",
        },
        "cash > 2500 AND largest >= 900",
    ),
    (
        "TEST-OR-01",
        "TRUE",
        "5d",
        {"n": "count(*)", "total": "sum(amount)"},
        "n >= 6 OR total >= 4000",
    ),
]


def write_rules(folder: Path) -> None:
    for code, where, window, aggregate, having in RULES:
        data = copy.deepcopy(RULE)
        data.update(id=code, where=where, window=window, aggregate=aggregate, having=having)
        path = folder / f"{code.lower()}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def random_transactions(seed: int, n: int = 3000) -> pl.LazyFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1)
    accounts = [f"A{i}" for i in range(60)]
    rows = []
    for _ in range(n):
        sender, receiver = rng.choice(accounts, size=2, replace=False)
        cash = rng.random() < 0.3
        if cash and rng.random() < 0.5:
            sender = "CASH"
        elif cash:
            receiver = "CASH"
        when = start + timedelta(minutes=int(rng.integers(0, 90 * 24 * 60)))
        rows.append(
            {
                "timestamp": when.strftime("%Y-%m-%d %H:%M"),
                "amount": float(rng.choice([50, 200, 400, 950, 1200])),
                "from_account": str(sender),
                "to_account": str(receiver),
                "channel": "cash" if cash else "p2p",
            }
        )
    return transactions_frame(rows).lazy()


def hits(result) -> set[tuple[str, str]]:
    return set(result.evidence.select(S.EV_CODE, S.EV_ACCOUNT).iter_rows())


@pytest.mark.parametrize("seed", [1, 2])
def test_the_pre_check_changes_no_hit(tmp_path, monkeypatch, seed):
    write_rules(tmp_path)
    ruleset = load_rules(tmp_path)
    assert ruleset.problems == []
    data = random_transactions(seed)
    with_check = run_rules(data, ruleset)
    assert with_check.errors == []
    monkeypatch.setattr(compiler, "_necessary_conditions", lambda rule, having: [])
    without = run_rules(data, ruleset)
    assert hits(with_check) == hits(without)
    # the data reaches the thresholds: the comparison is not between two empty sets
    assert {code for code, _ in hits(without)} >= {"TEST-COUNT-01", "TEST-SUM-01"}
    # and the evidence itself (windows, supporting transactions, scores) is the same
    order = [S.EV_CODE, S.EV_ACCOUNT]
    assert with_check.evidence.sort(order).equals(without.evidence.sort(order))


def test_a_burst_across_a_block_edge_still_fires(tmp_path):
    """Blocks are one window long; a window can straddle two of them."""
    write_rules(tmp_path)
    ruleset = load_rules(tmp_path)
    # 7-day blocks start at 1970-01-01 + 7k days
    epoch = datetime(1970, 1, 1)
    edge = epoch + timedelta(days=7 * ((datetime(2024, 1, 4) - epoch).days // 7))
    rows = [
        {
            "timestamp": (edge + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M"),
            "amount": 100.0,
            "from_account": "CASH",
            "to_account": "B1",
            "channel": "cash",
        }
        for h in (-30, -2, 2, 30)
    ]
    # four deposits in all, but never four within 7 days: must stay quiet
    rows += [
        {
            "timestamp": (edge + timedelta(days=d)).strftime("%Y-%m-%d %H:%M"),
            "amount": 100.0,
            "from_account": "CASH",
            "to_account": "B2",
            "channel": "cash",
        }
        for d in (0, 8, 16, 24)
    ]
    result = run_rules(transactions_frame(rows).lazy(), ruleset)
    assert {a for c, a in hits(result) if c == "TEST-COUNT-01"} == {"B1"}


def test_having_lower_bounds_reads_only_conjunctions():
    assert having_lower_bounds("n >= 3 AND total > 2.5 AND x <= 4") == [
        ("n", ">=", 3.0),
        ("total", ">", 2.5),
    ]
    assert having_lower_bounds("(n >= 3) AND (a >= 1 OR b >= 2)") == [("n", ">=", 3.0)]
    assert having_lower_bounds("n >= 3 OR total >= 100") == []
    assert having_lower_bounds("n BETWEEN 1 AND 5 AND m >= 2") == []
    assert having_lower_bounds("name = 'A AND B' AND n >= 4") == [("n", ">=", 4.0)]
    assert having_lower_bounds("cash >= 0.5 * credits") == []


def test_input_order_does_not_matter(tmp_path):
    """Windows rely on time order; the engine restores it when the input lacks it."""
    write_rules(tmp_path)
    ruleset = load_rules(tmp_path)
    data = random_transactions(3).collect()
    in_time_order = run_rules(data.sort(S.TIMESTAMP).lazy(), ruleset)
    shuffled = run_rules(data.sample(fraction=1.0, shuffle=True, seed=4).lazy(), ruleset)
    assert hits(in_time_order) and hits(in_time_order) == hits(shuffled)
    order = [S.EV_CODE, S.EV_ACCOUNT]
    assert in_time_order.evidence.sort(order).equals(shuffled.evidence.sort(order))
    # each rule's evidence comes in account order (scoring breaks ties by it)
    evidence = shuffled.evidence
    assert evidence[S.EV_CODE].n_unique() > 1
    assert evidence.group_by(S.EV_CODE).agg(pl.col(S.EV_ACCOUNT).is_sorted())[S.EV_ACCOUNT].all()


def test_sorted_movements_are_the_movements_view():
    from moneytrail.rules import views as V

    base = V.canonical(random_transactions(5, n=500)).collect()
    assert base[S.MEMO].null_count() == base.height  # an empty column becomes a literal
    view, nulls = compiler._movements_by_account(base.lazy())
    built = view.collect()
    plain = V.movements_view(base.lazy()).collect()
    assert nulls == {compiler._HEIGHT: base.height, **base.null_count().row(0, named=True)}
    # the same columns and values; the direction is an Enum of its two words
    assert built.columns == plain.columns
    assert built.schema[V.DIRECTION] == pl.Enum([V.DIRECTION_IN, V.DIRECTION_OUT])
    built = built.with_columns(pl.col(V.DIRECTION).cast(pl.String))
    assert built.schema == plain.schema
    key = [S.TXN_ID, V.DIRECTION]
    assert built.sort(key).equals(plain.sort(key))
    # each account's rows together and in time order
    assert built[V.ACCOUNT].rle_id().max() + 1 == built[V.ACCOUNT].n_unique()
    assert built.select(pl.col(S.TIMESTAMP).is_sorted().over(V.ACCOUNT).all()).item()


def test_movements_split_into_parts_give_the_same_evidence(tmp_path, monkeypatch):
    """A big input runs the rules part by part (accounts split); the hits and the
    evidence are those of the whole view in memory."""
    write_rules(tmp_path)
    ruleset = load_rules(tmp_path)
    data = random_transactions(6).collect()
    whole = run_rules(data.lazy(), ruleset)
    monkeypatch.setattr(compiler, "MOVEMENTS_PER_PART", data.height // 2)
    assert compiler._parts_needed(list(ruleset.rules), data.lazy()) == 4
    split = run_rules(data.lazy(), ruleset)
    assert hits(whole) and hits(split) == hits(whole)
    assert sorted(split.ran) == sorted(whole.ran) and split.errors == whole.errors == []
    order = [S.EV_CODE, S.EV_ACCOUNT]
    assert split.evidence.sort(order).equals(whole.evidence.sort(order))
