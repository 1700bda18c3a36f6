"""The rule engine: loading and checking rule files, compiling and running them, self-tests."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from moneytrail import schema as S
from moneytrail.errors import ParamsError, RuleError
from moneytrail.evidence import evidence_frame
from moneytrail.params import Params
from moneytrail.rules import MAX_TXN_IDS, default_rules_dir, load_rules, run_rules, run_tests
from moneytrail.rules.compiler import RULES_PER_BATCH
from moneytrail.rules.sql import sql_literal, substitute
from moneytrail.rules.testdata import transactions_frame

FIXTURES = Path(__file__).parent / "fixtures" / "rules_engine"
GOOD = FIXTURES / "good"

BASE_RULE = {
    "id": "TEST-BASE-01",
    "title": "Large cash deposits",
    "status": "test",
    "severity": "medium",
    "description": "Cash deposits above a floor.",
    "references": [{"doc": "FIN-2020-A008", "section": "Financial indicators"}],
    "author": "moneytrail",
    "date": "2026-11-29",
    "falsepositives": ["Check the business type"],
    "level": "account",
    "requires": ["channel"],
    "where": "direction = 'in' AND channel = 'cash' AND amount >= {floor}",
    "group_by": "account",
    "window": "7d",
    "aggregate": {"n": "count(*)", "total": "sum(amount)"},
    "having": "n >= 2",
    "params": {"floor": {"value": 1000, "basis": "default"}},
    "reason": "{n} deposits totalling {total:,.0f}",
    "tests": [
        {
            "name": "two deposits fire",
            "expect": "fire",
            "transactions": [
                {
                    "timestamp": "2024-03-01 10:00",
                    "amount": 2000,
                    "from_account": "CASH",
                    "to_account": "A1",
                    "channel": "cash",
                    "repeat": 2,
                }
            ],
        },
        {
            "name": "one deposit stays quiet",
            "expect": "quiet",
            "transactions": [
                {
                    "timestamp": "2024-03-01 10:00",
                    "amount": 2000,
                    "from_account": "CASH",
                    "to_account": "A1",
                    "channel": "cash",
                }
            ],
        },
    ],
}


def write_rule(folder: Path, name: str, changes: dict | None = None, drop=()) -> Path:
    data = copy.deepcopy(BASE_RULE)
    data.update(copy.deepcopy(changes or {}))
    for key in drop:
        data.pop(key)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def txns(rows: list[dict]) -> pl.LazyFrame:
    return transactions_frame(rows).lazy()


def cash_in(account: str, when: str, amount: float, **extra) -> dict:
    row = {"timestamp": when, "amount": amount, "from_account": "CASH", "to_account": account}
    return {"channel": "cash", **row, **extra}


# --------------------------------------------------------------------------
# Loading and checking
# --------------------------------------------------------------------------
def test_fixture_rules_load_and_pass_their_own_tests():
    ruleset = load_rules(GOOD)
    assert ruleset.problems == []
    assert {r.id for r in ruleset.rules} == {
        "TEST-STRUCT-01",
        "TEST-NIGHT-01",
        "TEST-SEQ-01",
        "TEST-RATIO-01",
        "TEST-MINOR-01",
        "TEST-TXVIEW-01",
        "TEST-OLD-01",
    }
    results = run_tests(ruleset)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    # the paired .tests.yaml file supplies the tests of the transactions-view rule
    assert {r.name for r in results if r.rule_id == "TEST-TXVIEW-01"} == {
        "three senders in a day fire",
        "three senders over three days stay quiet",
    }
    # deprecated rules load but never run
    assert "TEST-OLD-01" not in {r.rule_id for r in results}


def test_default_rules_dir_is_the_checkout_catalogue():
    assert default_rules_dir() == Path(__file__).parents[1] / "rules"


def problems_of(folder: Path) -> list[tuple[str, str | None, str]]:
    ruleset = load_rules(folder)
    return [(Path(p.path).name, p.field, p.message) for p in ruleset.problems]


@pytest.mark.parametrize(
    ("changes", "drop", "field", "fragment"),
    [
        ({"wher": "TRUE"}, (), "wher", "did you mean 'where'"),
        ({}, ("reason",), "reason", "missing required key"),
        ({"references": []}, (), "references", "at least 1"),
        ({"where": "amount >> {floor}"}, (), "where", "bad SQL"),
        ({"where": "amount > foo({floor})"}, (), "where", "bad SQL"),
        ({"where": "amount > {ceiling}"}, (), "where", "{ceiling} is used but not declared"),
        (
            {
                "params": {
                    "floor": {"value": 1, "basis": "default"},
                    "unused": {"value": 2, "basis": "default"},
                }
            },
            (),
            "params.unused",
            "declared but never used",
        ),
        (
            {"params": {"floor": {"value": 1, "basis": "guess"}}},
            (),
            "params.floor.basis",
            "not allowed",
        ),
        ({"params": {"floor": 1000}}, (), "params.floor", "must be a mapping"),
        ({"window": "7 days"}, (), "window", "does not match"),
        (
            {"where": "channel = 'cash' AND location_city = 'Reno' AND amount > {floor}"},
            (),
            "where",
            "'location_city', which is not listed in requires",
        ),
        ({"where": "amount + {floor}"}, (), "where", "true/false predicate"),
        ({"where": "amount > 'x' AND amount > {floor}"}, (), "where", "cannot compare"),
        (
            {"where": "nosuch > {floor}", "requires": ["channel", "nosuch"]},
            (),
            "requires",
            "'nosuch' is not a column",
        ),
        ({"reason": "{n.real} deposits"}, (), "reason", "not a plain name"),
        ({"reason": "{n!r} deposits"}, (), "reason", "conversions are not allowed"),
        ({"reason": "{amount} deposits"}, (), "reason", "{amount} is not a measure"),
        ({"having": "n >= 2 AND amount > 3"}, (), "having", "only the measures are known"),
        (
            {"aggregate": {"amount": "sum(amount)"}, "reason": "{amount}", "having": "amount > 1"},
            (),
            "aggregate.amount",
            "clashes",
        ),
        ({"level": "transaction"}, (), "group_by", "only account-level rules"),
        ({"subject": "to_account"}, (), "subject", "leave it out"),
        ({"severity": "urgent"}, (), "severity", "one of: low, medium, high, critical"),
        ({"id": "bad-id-1"}, (), "id", "does not match"),
        ({"tests": BASE_RULE["tests"][:1]}, (), "tests", "expect: quiet"),
        (
            {
                "tests": [
                    {
                        **BASE_RULE["tests"][0],
                        "transactions": [
                            {
                                "timestamp": "2024-03-01",
                                "amount": "lots",
                                "from_account": "CASH",
                                "to_account": "A1",
                            }
                        ],
                    }
                ]
                + BASE_RULE["tests"][1:]
            },
            (),
            "tests[0].transactions[0].amount",
            "not a number",
        ),
        (
            {
                "tests": [
                    {
                        **BASE_RULE["tests"][0],
                        "transactions": [
                            {
                                "timestamp": "2024-03-01",
                                "amount": 3,
                                "from_account": "CASH",
                                "to_account": "A1",
                                "colour": "red",
                            }
                        ],
                    }
                ]
                + BASE_RULE["tests"][1:]
            },
            (),
            "tests[0].transactions[0].colour",
            "not a canonical column",
        ),
        (
            {"tests": [{**BASE_RULE["tests"][0], "params": {"nope": 1}}] + BASE_RULE["tests"][1:]},
            (),
            "tests[0].params.nope",
            "not a param",
        ),
    ],
)
def test_checker_names_file_field_and_problem(tmp_path, changes, drop, field, fragment):
    write_rule(tmp_path, "good", {"id": "TEST-GOOD-01"})
    write_rule(tmp_path, "broken", changes, drop)
    problems = problems_of(tmp_path)
    assert any(
        name == "broken.yaml" and found == field and fragment in message
        for name, found, message in problems
    ), problems
    assert all(name == "broken.yaml" for name, _, _ in problems)
    # the broken file never stops the good one from loading
    assert [r.id for r in load_rules(tmp_path).rules] == ["TEST-GOOD-01"]


def test_yaml_syntax_error_is_reported_with_its_line(tmp_path):
    write_rule(tmp_path, "good")
    (tmp_path / "broken.yaml").write_text("id: X-01\ntitle: [unclosed\nstatus: test\n")
    (problem,) = load_rules(tmp_path).problems
    assert problem.path.endswith("broken.yaml")
    assert "YAML syntax error at line" in problem.message


def test_object_constructing_tag_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    write_rule(tmp_path, "good")
    (tmp_path / "evil.yaml").write_text(
        f'id: !!python/object/apply:os.system ["touch {marker}"]\ntitle: x\n'
    )
    ruleset = load_rules(tmp_path)
    assert not marker.exists()
    (problem,) = ruleset.problems
    assert problem.path.endswith("evil.yaml") and "YAML tag not allowed (line 1)" in problem.message
    assert [r.id for r in ruleset.rules] == ["TEST-BASE-01"]


def test_duplicate_ids_are_reported_and_the_first_kept(tmp_path):
    write_rule(tmp_path, "a_first")
    write_rule(tmp_path, "b_second")
    ruleset = load_rules(tmp_path)
    assert [Path(r.path).name for r in ruleset.rules] == ["a_first.yaml"]
    (problem,) = ruleset.problems
    assert problem.field == "id" and "duplicate id TEST-BASE-01" in problem.message


def test_unquoted_yaml_date_and_single_indicator_are_accepted(tmp_path):
    path = write_rule(tmp_path, "r", {"indicator": "HT-STRUCT-01", "max_benign_share": 0.02})
    path.write_text(path.read_text().replace("date: '2026-11-29'", "date: 2026-11-29"))
    ruleset = load_rules(tmp_path)
    assert ruleset.problems == []
    (rule,) = ruleset.rules
    assert rule.date == "2026-11-29" and rule.indicator == ["HT-STRUCT-01"]
    assert rule.max_benign_share == 0.02


def test_rule_schema_is_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from moneytrail.rules.schema_check import rule_schema

    jsonschema.Draft202012Validator.check_schema(rule_schema())
    rule = yaml.safe_load((GOOD / "struct.yaml").read_text())
    rule["date"] = str(rule["date"])
    jsonschema.Draft202012Validator(rule_schema()).validate(rule)


# --------------------------------------------------------------------------
# Param substitution and reason templates
# --------------------------------------------------------------------------
def test_params_go_into_sql_by_value():
    assert sql_literal(3) == "3" and sql_literal(2.5) == "2.5"
    assert sql_literal("O'Brien") == "'O''Brien'"
    assert sql_literal([7011, "x"]) == "(7011, 'x')"
    for bad in (True, None, {"a": 1}, [], [[1]]):
        with pytest.raises(RuleError):
            sql_literal(bad)
    # a string param can never break out of its quotes
    text = substitute("memo = {m}", {"m": "x' OR TRUE OR '"})
    frame = pl.DataFrame({"memo": ["a", "x' OR TRUE OR '"]})
    assert frame.filter(pl.sql_expr(text))["memo"].to_list() == ["x' OR TRUE OR '"]
    # braces inside string literals are not params; braces inside a value are data
    assert substitute("memo = '{x}'", {}) == "memo = '{x}'"
    assert substitute("regexp_like(memo, {p})", {"p": "a{2,}"}) == "regexp_like(memo, 'a{2,}')"
    with pytest.raises(RuleError, match="stray brace"):
        substitute("amount > { floor }", {"floor": 1})


def test_param_overrides_change_the_result_and_are_checked():
    ruleset = load_rules(GOOD)
    rows = [cash_in("A1", f"2024-03-0{d} 10:00", 2900) for d in (1, 2, 3)]
    assert run_rules(txns(rows), ruleset).hits.get("TEST-STRUCT-01") == 0
    lowered = Params(rules={"TEST-STRUCT-01": {"threshold": 3000}})
    assert run_rules(txns(rows), ruleset, lowered).hits["TEST-STRUCT-01"] == 1
    for bad in (
        {"TEST-NOPE-01": {"threshold": 1}},
        {"TEST-STRUCT-01": {"thresh": 1}},
        {"TEST-STRUCT-01": {"threshold": "high"}},
    ):
        with pytest.raises(ParamsError):
            run_rules(txns(rows), ruleset, Params(rules=bad))


# --------------------------------------------------------------------------
# Compiling and running
# --------------------------------------------------------------------------
def by_code(result, code: str) -> dict:
    rows = result.evidence.filter(pl.col(S.EV_CODE) == code).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_account_rule_reports_its_strongest_window_with_its_transactions():
    ruleset = load_rules(GOOD)
    rows = [
        cash_in("A1", "2024-03-01 10:00", 9500, txn_id="a"),
        cash_in("A1", "2024-03-02 10:00", 9500, txn_id="b"),
        cash_in("A1", "2024-03-03 10:00", 9500, txn_id="c"),
        # a stronger window three weeks later: five deposits within a week
        *[cash_in("A1", f"2024-03-2{d} 10:00", 9000, txn_id=f"w{d}") for d in range(1, 6)],
    ]
    result = run_rules(txns(rows), ruleset)
    ev = by_code(result, "TEST-STRUCT-01")
    assert ev[S.EV_ACCOUNT] == "A1"
    assert ev[S.EV_TXN_IDS] == ["w1", "w2", "w3", "w4", "w5"]
    assert ev[S.EV_WINDOW_START] == datetime(2024, 3, 21, 10)
    assert ev[S.EV_WINDOW_END] == datetime(2024, 3, 25, 10)
    assert ev[S.EV_REASON] == "5 cash deposits totalling 45,000 just under 10,000 within 7 days"
    assert ev[S.EV_SCORE] == pytest.approx(0.8 * 5 / 6)  # high confidence × strength
    assert ev[S.EV_SEVERITY] == "high" and ev[S.EV_ROLE] == "controller"
    assert ev[S.EV_DETECTOR] == "rule" and ev[S.EV_INSTANCE] is None
    assert result.hits["TEST-STRUCT-01"] == 1
    evidence_frame(result.evidence)  # conforms to the Evidence schema


def test_transaction_rule_gives_one_row_per_account_from_its_strongest_hit():
    ruleset = load_rules(GOOD)
    rows = [
        {
            "txn_id": "n1",
            "timestamp": "2024-03-01 23:30",
            "amount": 300.0,
            "from_account": "A1",
            "to_account": "CASH",
            "channel": "cash",
            "location_city": "Reno",
        },
        {
            "txn_id": "n2",
            "timestamp": "2024-03-02 02:00",
            "amount": 800.0,
            "from_account": "A1",
            "to_account": "CASH",
            "channel": "cash",
            "location_city": "Vegas",
        },
        {
            "txn_id": "d1",
            "timestamp": "2024-03-02 12:00",
            "amount": 900.0,
            "from_account": "A1",
            "to_account": "CASH",
            "channel": "cash",
            "location_city": "Reno",
        },
    ]
    ev = by_code(run_rules(txns(rows), ruleset), "TEST-NIGHT-01")
    assert ev[S.EV_TXN_IDS] == ["n1", "n2"]
    assert ev[S.EV_REASON] == (
        "800 withdrawn in cash at 2024-03-02 02:00:00 in Vegas (2 matching transactions)"
    )
    assert ev[S.EV_SCORE] == pytest.approx(0.6 * 0.8)  # medium confidence × strength 0.8
    assert ev[S.EV_WINDOW_START] == datetime(2024, 3, 1, 23, 30)


def test_sequence_rule_pairs_events_of_one_account_in_order():
    ruleset = load_rules(GOOD)
    rules = [r for r in ruleset.rules if r.id == "TEST-SEQ-01"]
    test = next(t for t in rules[0].tests if t.expect == "fire")
    result = run_rules(txns(test.transactions), type(ruleset)(rules, []))
    ev = by_code(result, "TEST-SEQ-01")
    assert ev[S.EV_TXN_IDS] == ["D1", "W1", "D2", "W2"]  # the small X1 fails the match
    assert ev[S.EV_WINDOW_START] == datetime(2024, 3, 1, 22)
    assert ev[S.EV_WINDOW_END] == datetime(2024, 3, 9, 15)
    assert ev[S.EV_REASON].startswith("2 deposits withdrawn in 1 other cities, quickest after 13")


def test_missing_or_all_null_required_columns_skip_the_rule_with_their_names():
    ruleset = load_rules(GOOD)
    rows = [cash_in("A1", f"2024-03-0{d} 10:00", 9500) for d in (1, 2, 3)]
    no_channel = txns(rows).with_columns(pl.lit(None, dtype=pl.String).alias(S.CHANNEL))
    result = run_rules(no_channel, ruleset)
    skipped = dict(result.skipped)
    assert skipped["TEST-STRUCT-01"] == ["channel"]
    assert skipped["TEST-NIGHT-01"] == ["channel", "location_city"]
    assert skipped["TEST-MINOR-01"] == ["counterparty_age"]  # no accounts table
    assert "TEST-TXVIEW-01" in result.ran and "TEST-STRUCT-01" not in result.ran
    assert "TEST-OLD-01" not in result.ran and "TEST-OLD-01" not in skipped


def test_the_cash_node_is_never_a_subject(tmp_path):
    write_rule(
        tmp_path,
        "everything",
        {
            "level": "transaction",
            "requires": [],
            "where": "amount > 0",
            "params": {},
            "reason": "{amount}",
        },
        drop=("group_by", "window", "aggregate", "having"),
    )
    ruleset = load_rules(tmp_path)
    assert ruleset.problems == []
    rows = [
        cash_in("A1", "2024-03-01 10:00", 50),
        {"timestamp": "2024-03-01 11:00", "amount": 20, "from_account": "A1", "to_account": "CASH"},
    ]
    result = run_rules(txns(rows), ruleset)
    assert result.evidence[S.EV_ACCOUNT].to_list() == ["A1"]


def test_rules_are_collected_together_in_batches(monkeypatch):
    calls = []
    real = pl.collect_all

    def counting(frames, *args, **kwargs):
        frames = list(frames)
        calls.append(len(frames))
        return real(frames, *args, **kwargs)

    monkeypatch.setattr(pl, "collect_all", counting)
    ruleset = load_rules(GOOD)
    rows = [
        cash_in("A1", f"2024-03-0{d} 23:00", 9500, location_city="Reno", mcc=7011)
        for d in (1, 2, 3)
    ]
    result = run_rules(txns(rows), ruleset)
    assert len(result.ran) >= 5 and sum(calls) == len(result.ran)
    assert calls == [
        min(RULES_PER_BATCH, len(result.ran) - i)
        for i in range(0, len(result.ran), RULES_PER_BATCH)
    ]


def test_a_rule_failing_on_the_data_is_reported_and_the_others_still_run(tmp_path):
    write_rule(tmp_path, "good")
    write_rule(
        tmp_path,
        "fragile",
        {
            "id": "TEST-FRAGILE-01",
            "requires": ["memo"],
            "where": "CAST(memo AS INTEGER) > 3",
            "params": {},
            "having": "n >= 1",
        },
    )
    ruleset = load_rules(tmp_path)
    assert ruleset.problems == []
    rows = [cash_in("A1", f"2024-03-0{d} 10:00", 2000, memo="not a number") for d in (1, 2)]
    result = run_rules(txns(rows), ruleset)
    assert [code for code, _ in result.errors] == ["TEST-FRAGILE-01"]
    assert result.ran == ["TEST-BASE-01"] and result.hits["TEST-BASE-01"] == 1


def test_supporting_transactions_are_capped_and_the_reason_says_so(tmp_path):
    write_rule(tmp_path, "r", {"window": None, "having": "n >= 2"}, drop=("window",))
    rows = [cash_in("A1", "2024-03-01 10:00", 2000, repeat=MAX_TXN_IDS + 5, every="1m")]
    ev = by_code(run_rules(txns(rows), load_rules(tmp_path)), "TEST-BASE-01")
    assert len(ev[S.EV_TXN_IDS]) == MAX_TXN_IDS
    assert ev[S.EV_REASON].endswith(f"(showing {MAX_TXN_IDS} of {MAX_TXN_IDS + 5} transactions)")


def test_kyc_columns_join_both_sides_and_age_comes_from_birth_date():
    ruleset = load_rules(GOOD)
    minors = [r for r in ruleset.rules if r.id == "TEST-MINOR-01"]
    rows = [
        {"timestamp": "2024-03-01 10:00", "amount": 30, "from_account": f"K{i}", "to_account": "X"}
        for i in range(3)
    ]
    accounts = pl.DataFrame(
        {
            "account_id": ["K0", "K1", "K2"],
            "birth_date": [datetime(2010, 5, 1).date()] * 2 + [datetime(1990, 1, 1).date()],
        }
    )
    result = run_rules(txns(rows), type(ruleset)(minors, []), accounts=accounts)
    assert result.hits["TEST-MINOR-01"] == 0  # only two payers are under 18
    younger = accounts.with_columns(pl.lit(datetime(2011, 1, 1).date()).alias("birth_date"))
    result = run_rules(txns(rows), type(ruleset)(minors, []), accounts=younger)
    ev = by_code(result, "TEST-MINOR-01")
    assert ev[S.EV_REASON] == "3 payers under 18 within 30 days"


@pytest.mark.parametrize("window", ["90m", "1d", "7d"])
def test_rolling_distinct_count_equals_counting_each_window(window):
    """count(DISTINCT) over rolling windows, computed without hashing each window,
    agrees with polars counting every window's values."""
    import numpy as np

    from moneytrail.rules.compiler import _rolling_distinct
    from moneytrail.rules.sql import parse_window

    rng = np.random.default_rng(3)
    n = 3000
    start = np.datetime64("2024-01-01T00:00", "us")
    minutes = rng.integers(0, 60 * 24 * 40, n)  # 40 days, with same-minute ties
    rows = pl.DataFrame(
        {
            "account": rng.choice(["A", "B", "C"], n),
            S.TIMESTAMP: start + minutes.astype("timedelta64[m]"),
            "value": pl.Series(rng.choice(["x", "y", "z", "w", "v", ""], n)).replace("", None),
        }
    ).sort("account", S.TIMESTAMP)
    fast = _rolling_distinct(rows.lazy(), "account", "value", parse_window(window), "fast")
    got = (
        fast.rolling(index_column=S.TIMESTAMP, period=window, group_by="account")
        .agg(pl.col("fast").last(), pl.col("value").drop_nulls().n_unique().alias("naive"))
        .collect()
    )
    assert got["fast"].to_list() == got["naive"].cast(pl.Int64).to_list()


def test_busy_accounts_count_distinct_values_the_same_way(monkeypatch):
    """Accounts over the busy threshold take the other distinct-count path: same results."""
    import numpy as np

    from moneytrail.rules import compiler

    ruleset = load_rules(GOOD)
    rng = np.random.default_rng(5)
    n = 600
    start = np.datetime64("2024-03-01T00:00", "us")
    frame = pl.DataFrame(
        {
            S.TIMESTAMP: start + rng.integers(0, 60 * 24 * 10, n).astype("timedelta64[m]"),
            S.AMOUNT: rng.uniform(10, 500, n),
            S.FROM_ACCOUNT: rng.choice([f"S{i}" for i in range(12)], n),
            S.TO_ACCOUNT: rng.choice(["R1", "R2", "R3"], n),
        }
    )
    calm = run_rules(frame.lazy(), ruleset).evidence.sort(S.EV_CODE, S.EV_ACCOUNT)
    monkeypatch.setattr(compiler, "BUSY_ACCOUNT_ROWS", 0)
    busy = run_rules(frame.lazy(), ruleset).evidence.sort(S.EV_CODE, S.EV_ACCOUNT)
    assert calm.height > 0
    assert calm.equals(busy)
    assert all(result.passed for result in run_tests(ruleset))
