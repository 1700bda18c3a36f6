"""Big inputs run in parts split by account: the parts give the results of the whole."""

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from moneytrail import features
from moneytrail import schema as S
from moneytrail.parts import part_of, parts_needed, split_by_account
from moneytrail.synth import generate


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("parts")
    generate(out, n_accounts=600, days=90, seed=5, fmt="parquet")
    transactions = pl.read_parquet(out / "transactions.parquet").drop(S.LABEL_COLUMNS)
    return transactions, pl.read_parquet(out / "accounts.parquet")


def test_parts_needed_rounds_up():
    assert parts_needed(0, 10) == 1
    assert parts_needed(10, 10) == 1
    assert parts_needed(11, 10) == 2
    assert parts_needed(95, 10) == 10


def test_split_puts_every_row_once_and_each_account_in_one_part():
    rng = np.random.default_rng(1)
    rows = pl.DataFrame(
        {"account": [f"A{i}" for i in rng.integers(0, 50, 2000)], "value": np.arange(2000)}
    )
    with split_by_account(rows.lazy(), pl.col("account"), 4) as paths:
        read = [pl.read_parquet(p) for p in paths]
        assert 2 <= len(read) <= 4
        assert all(p.exists() for p in paths)
    assert not any(p.exists() for p in paths)  # the files are gone after the block
    assert all(frame.columns == ["account", "value"] for frame in read)
    together = pl.concat(read)
    assert sorted(together["value"].to_list()) == list(range(2000))
    accounts = [set(frame["account"]) for frame in read]
    assert sum(len(a) for a in accounts) == len(set().union(*accounts)) == 50
    # the part of an account is the same from run to run
    expected = rows.select(part_of(pl.col("account"), 4)).to_series()
    assert expected.n_unique() == len(read)


def test_features_in_parts_equal_the_whole(export, monkeypatch):
    transactions, accounts = export
    whole = features.account_features(transactions.lazy(), accounts)
    legs = 2 * transactions.height
    monkeypatch.setattr(features, "LEGS_PER_PART", legs // 5)
    split = features.account_features(transactions.lazy(), accounts)
    assert split.notices == whole.notices
    assert split.descriptions == whole.descriptions
    # floats summed in another order may differ in their last bits, no more
    assert_frame_equal(split.frame, whole.frame, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    assert split.frame.height > 500


def test_features_in_parts_cover_merchants_cash_and_one_sided_accounts(monkeypatch):
    """Merchants and CASH get no row in the parts path either; accounts that only
    receive or only send keep their flow-through and zero counts."""
    t0 = datetime(2024, 3, 1, 9)
    rows = []
    for i in range(40):
        ts = t0 + timedelta(hours=i)
        rows += [
            (f"T{i}a", ts, 100.0 + i, "CASH", f"P{i % 7}", "cash", None),
            (f"T{i}b", ts + timedelta(minutes=5), 20.0, f"P{i % 7}", "M:shop", "card", 5411),
            (f"T{i}c", ts + timedelta(minutes=9), 50.0, f"P{i % 7}", f"R{i % 3}", "p2p", None),
        ]
    frame = pl.DataFrame(
        rows,
        schema={
            S.TXN_ID: pl.String,
            S.TIMESTAMP: pl.Datetime("us"),
            S.AMOUNT: pl.Float64,
            S.FROM_ACCOUNT: pl.String,
            S.TO_ACCOUNT: pl.String,
            S.CHANNEL: pl.String,
            S.MCC: pl.Int32,
        },
        orient="row",
    )
    whole = features.account_features(frame.lazy())
    monkeypatch.setattr(features, "LEGS_PER_PART", 30)
    split = features.account_features(frame.lazy())
    ids = split.frame[S.ACCOUNT_ID].to_list()
    assert "M:shop" not in ids and S.CASH_NODE not in ids
    assert ids == [f"P{i}" for i in range(7)] + [f"R{i}" for i in range(3)]
    assert_frame_equal(split.frame, whole.frame, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
    assert split.frame.filter(pl.col(S.ACCOUNT_ID) == "R0")["flow_through_24h"].item() == 0.0


def test_patterns_over_spilled_edges_equal_those_held_in_memory(export, monkeypatch):
    from moneytrail import graph

    transactions, accounts = export
    held = graph.detect_patterns(transactions.lazy(), accounts)
    monkeypatch.setattr(graph, "EDGES_IN_MEMORY", 100)
    spilled = graph.detect_patterns(transactions.lazy(), accounts)
    assert held.evidence.height > 100
    assert held.evidence[S.EV_CODE].n_unique() >= 5
    assert spilled.evidence.equals(held.evidence)
    assert spilled.notices == held.notices


def test_patterns_in_parts_equal_the_whole(export, monkeypatch):
    import moneytrail.graph as graph

    transactions, _ = export
    whole = graph.detect_patterns(transactions.lazy())
    # every detector that runs in parts has instances to compare
    assert {
        "fan_in",
        "fan_out",
        "coordinated_fan",
        "cycle",
        "scatter_gather",
        "gather_scatter",
        "bipartite",
        "pass_through_chain",
        "funnel",
    } <= set(whole.evidence[S.EV_CODE])
    used = []

    def spy(rows, rows_per_part):
        used.append(parts_needed(rows, rows_per_part))
        return used[-1]

    # spilled to a file and run in parts, a few thousand transfers each
    monkeypatch.setattr(graph, "EDGES_IN_MEMORY", 1000)
    monkeypatch.setattr(graph, "EDGES_PER_PART", 3000)
    monkeypatch.setattr(graph, "parts_needed", spy)
    split = graph.detect_patterns(transactions.lazy())
    assert used and used[0] >= 4
    assert split.notices == whole.notices
    assert_frame_equal(split.evidence, whole.evidence, check_exact=True)
