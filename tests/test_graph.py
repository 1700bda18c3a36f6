"""Graph typology detectors: each pattern fires on its shape and not on look-alikes."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.evidence import evidence_frame
from moneytrail.graph import DEFAULTS, PATTERN_CODES, detect_patterns, neighbourhood

T0 = datetime(2024, 3, 1, 9, 0)


def frame(rows: list[tuple]) -> pl.LazyFrame:
    """rows: (from, to, amount, hours after T0)."""
    return pl.DataFrame(
        {
            S.TXN_ID: [f"t{i}" for i in range(len(rows))],
            S.FROM_ACCOUNT: [r[0] for r in rows],
            S.TO_ACCOUNT: [r[1] for r in rows],
            S.AMOUNT: [float(r[2]) for r in rows],
            S.TIMESTAMP: [T0 + timedelta(hours=r[3]) for r in rows],
        },
        schema_overrides={S.TIMESTAMP: pl.Datetime("us")},
    ).lazy()


def background(n_pairs: int = 30, repeats: int = 6) -> list[tuple]:
    """Standing relationships: the same pairs paying each other month after month."""
    return [
        (f"N{i}", f"N{(i + 1) % n_pairs}", 100 + i, 24 * 30 * m + i)
        for i in range(n_pairs)
        for m in range(repeats)
    ]


def codes_of(evidence: pl.DataFrame, account: str) -> set[str]:
    return set(evidence.filter(pl.col(S.EV_ACCOUNT) == account)[S.EV_CODE].to_list())


def test_fan_in_hub_is_collector_and_spokes_are_members():
    rows = background() + [(f"P{i}", "HUB", 300 + i, 10 * i) for i in range(8)]
    ev = detect_patterns(frame(rows)).evidence
    fan = ev.filter(pl.col(S.EV_CODE) == "fan_in")
    assert fan[S.EV_INSTANCE].n_unique() == 1
    hub = fan.filter(pl.col(S.EV_ACCOUNT) == "HUB")
    assert hub[S.EV_ROLE].to_list() == ["collector"]
    assert set(fan[S.EV_ACCOUNT]) == {"HUB"} | {f"P{i}" for i in range(8)}
    assert hub[S.EV_TXN_IDS][0].len() == 8
    assert "8 one-off counterparties" in hub[S.EV_REASON][0]
    # the standing relationships of the background never form a fan
    assert not ev.filter(pl.col(S.EV_ACCOUNT).str.starts_with("N")).height


def test_fan_out_below_threshold_does_not_fire():
    rows = background() + [("SRC", f"R{i}", 200, i) for i in range(4)]
    ev = detect_patterns(frame(rows)).evidence
    assert "fan_out" not in set(ev[S.EV_CODE])
    rows = background() + [("SRC", f"R{i}", 200, i) for i in range(6)]
    ev = detect_patterns(frame(rows)).evidence
    assert codes_of(ev, "SRC") == {"fan_out"}


def test_time_respecting_cycle_is_found_once_and_out_of_order_loop_is_not():
    loop = [("A", "B", 1000, 0), ("B", "C", 980, 24), ("C", "D", 960, 48), ("D", "A", 940, 72)]
    ev = detect_patterns(frame(background() + loop)).evidence
    cyc = ev.filter(pl.col(S.EV_CODE) == "cycle")
    assert cyc[S.EV_INSTANCE].n_unique() == 1
    assert set(cyc[S.EV_ACCOUNT]) == {"A", "B", "C", "D"}
    assert sorted(cyc[S.EV_TXN_IDS][0].to_list()) == sorted(
        [f"t{i}" for i in range(len(background()), len(background()) + 4)]
    )
    # the same accounts, but the money would have to travel back in time
    shuffled = [("A", "B", 1000, 72), ("B", "C", 980, 48), ("C", "D", 960, 24), ("D", "A", 940, 0)]
    ev = detect_patterns(frame(background() + shuffled)).evidence
    assert "cycle" not in set(ev[S.EV_CODE])


def test_cycle_outside_window_is_not_found():
    slow = [("A", "B", 1000, 0), ("B", "C", 990, 24 * 20), ("C", "A", 980, 24 * 45)]
    ev = detect_patterns(frame(background() + slow)).evidence
    assert "cycle" not in set(ev[S.EV_CODE])


def test_cash_and_merchants_are_never_members():
    rows = [(S.CASH_NODE, "HUB", 500, i) for i in range(10)]
    rows += [(f"C{i}", "SHOP", 20, i) for i in range(10)]
    lf = frame(rows).with_columns(
        pl.when(pl.col(S.TO_ACCOUNT) == "SHOP")
        .then(pl.lit("card"))
        .otherwise(pl.lit("cash"))
        .cast(S.CHANNEL_DTYPE)
        .alias(S.CHANNEL)
    )
    ev = detect_patterns(lf).evidence
    assert S.CASH_NODE not in set(ev[S.EV_ACCOUNT])
    assert "SHOP" not in set(ev[S.EV_ACCOUNT])


def test_evidence_conforms_to_schema_and_scores_in_range():
    rows = background() + [(f"P{i}", "HUB", 300, i) for i in range(6)]
    rows += [("A", "B", 1000, 0), ("B", "C", 980, 24), ("C", "A", 960, 48)]
    ev = detect_patterns(frame(rows)).evidence
    assert ev.schema == pl.Schema(S.EVIDENCE_SCHEMA)
    evidence_frame(ev)  # raises on a bad severity, role or score
    assert set(ev[S.EV_CODE]) <= set(PATTERN_CODES)
    assert ev[S.EV_DETECTOR].unique().to_list() == ["pattern"]


def test_unknown_pattern_name_is_a_params_error():
    from moneytrail.errors import ParamsError

    with pytest.raises(ParamsError):
        detect_patterns(frame(background()), settings={**DEFAULTS, "enabled": ["fan_inn"]})


def test_neighbourhood_edges_carry_counts_and_totals():
    rows = [("A", "B", 10, 0), ("A", "B", 15, 1), ("B", "C", 20, 2), ("C", "D", 5, 3)]
    g = neighbourhood(frame(rows), ["A"], hops=2)
    assert set(g.nodes) == {"A", "B", "C"}
    assert g.edges["A", "B"]["n"] == 2
    assert g.edges["A", "B"]["total"] == 25.0
    assert sorted(g.edges["A", "B"]["txn_ids"]) == ["t0", "t1"]
    assert g.nodes["A"]["hop"] == 0 and g.nodes["C"]["hop"] == 2
