"""Graph typology detectors: each pattern fires on its shape and not on look-alikes."""

from __future__ import annotations

import random
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
    hours = [0, 3, 11, 14, 30, 31, 52, 70]
    rows = background() + [(f"P{i}", "HUB", 300 + i, h) for i, h in enumerate(hours)]
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


def test_payments_on_a_clockwork_schedule_are_not_a_fan():
    # a standing order paying a new payee every week for ten weeks
    rows = background() + [("PAYER", f"R{i}", 250, 24 * 7 * i) for i in range(10)]
    ev = detect_patterns(frame(rows)).evidence
    assert "PAYER" not in set(ev[S.EV_ACCOUNT])
    # the same payees paid at irregular times are a fan-out
    days = [0, 1, 3, 4, 9, 10, 14, 20, 22, 23]
    rows = background() + [("PAYER", f"R{i}", 250, 24 * d) for i, d in enumerate(days)]
    ev = detect_patterns(frame(rows)).evidence
    # (the same amount to each payee within days: a coordinated fan too)
    assert codes_of(ev, "PAYER") == {"fan_out", "coordinated_fan"}


def test_fan_out_below_threshold_does_not_fire():
    rows = background() + [("SRC", f"R{i}", 200, i) for i in range(4)]
    ev = detect_patterns(frame(rows)).evidence
    assert "fan_out" not in set(ev[S.EV_CODE])
    rows = background() + [("SRC", f"R{i}", 200, i) for i in range(6)]
    ev = detect_patterns(frame(rows)).evidence
    assert codes_of(ev, "SRC") == {"fan_out", "coordinated_fan"}


def test_fan_in_of_similar_amounts_within_days_is_a_coordinated_fan():
    # eight unrelated payers each paying about 2,000 within four days
    rows = background() + [(f"P{i}", "HUB", 2000 + 15 * i, 11 * i) for i in range(8)]
    ev = detect_patterns(frame(rows)).evidence
    coord = ev.filter(pl.col(S.EV_CODE) == "coordinated_fan")
    assert set(coord[S.EV_ACCOUNT]) == {"HUB"} | {f"P{i}" for i in range(8)}
    roles = dict(zip(coord[S.EV_ACCOUNT], coord[S.EV_ROLE], strict=True))
    assert roles["HUB"] == "collector" and roles["P0"] == "facilitator"
    hub = coord.filter(pl.col(S.EV_ACCOUNT) == "HUB")
    assert "8 of the 8 one-off counterparties" in hub[S.EV_REASON][0]
    assert hub[S.EV_SCORE][0] > coord.filter(pl.col(S.EV_ACCOUNT) == "P0")[S.EV_SCORE][0]
    # the same number of payers paying unrelated amounts weeks apart: a fan, no more
    amounts = [50, 120, 400, 900, 2000, 3500, 7000, 15000]
    rows = background() + [(f"P{i}", "HUB", a, 24 * 20 * i) for i, a in enumerate(amounts)]
    ev = detect_patterns(frame(rows)).evidence
    assert codes_of(ev, "HUB") == {"fan_in"}
    # a cluster of small change (six payers of 50 beside two large ones) is not
    # worth the indicator, though the fan as a whole moves enough
    amounts = [50] * 6 + [1000, 1500]
    rows = background() + [(f"P{i}", "HUB", a, 11 * i) for i, a in enumerate(amounts)]
    ev = detect_patterns(frame(rows)).evidence
    assert codes_of(ev, "HUB") == {"fan_in"}


def test_payer_paying_twice_counts_once_in_the_coordinated_cluster():
    # six payers of about 2,000, each paying about 2,600 a day later (a neighbouring
    # amount cell): six payers, not up to twelve
    rows = background() + [
        (f"P{i}", "HUB", 2000 + 15 * i + 600 * again, 11 * i + 24 * again)
        for i in range(6)
        for again in (0, 1)
    ]
    ev = detect_patterns(frame(rows)).evidence
    hub = ev.filter((pl.col(S.EV_CODE) == "coordinated_fan") & (pl.col(S.EV_ACCOUNT) == "HUB"))
    assert hub[S.EV_REASON][0].startswith("6 of the 6 one-off counterparties of HUB")


def test_monthly_payments_seen_twice_are_a_standing_relationship_not_a_fan():
    # a two-month export: six tenants paying the same landlord the same rent a
    # month apart, and a benefits office paying six people on the same day each month
    twice = [(i, m) for i in range(6) for m in (0, 1)]
    rent = [(f"T{i}", "LANDLORD", 1200 + 50 * i, 24 * (i + 30 * m)) for i, m in twice]
    benefit = [("OFFICE", f"R{i}", 2000, 24 * 30 * m + i) for i, m in twice]
    ev = detect_patterns(frame(background() + rent + benefit)).evidence
    assert not {"LANDLORD", "OFFICE"} & set(ev[S.EV_ACCOUNT])
    # the same payers paying twice ten days apart are a coordinated fan-in
    burst = [(f"T{i}", "LANDLORD", 1200 + 50 * i, 24 * (i + 10 * m)) for i, m in twice]
    ev = detect_patterns(frame(background() + burst)).evidence
    assert {"fan_in", "coordinated_fan"} <= codes_of(ev, "LANDLORD")
    # ... and so are payers whose second payment is four times the first, or who
    # pay twice a week apart (a weekly relationship would show more than two)
    burst = [(f"T{i}", "LANDLORD", (1200 + 50 * i) * 4**m, 24 * (i + 30 * m)) for i, m in twice]
    ev = detect_patterns(frame(background() + burst)).evidence
    assert "fan_in" in codes_of(ev, "LANDLORD")
    burst = [(f"T{i}", "LANDLORD", 1200 + 50 * i, 24 * (i + 7 * m)) for i, m in twice]
    ev = detect_patterns(frame(background() + burst)).evidence
    assert "fan_in" in codes_of(ev, "LANDLORD")


def test_densest_group_counts_the_spokes_at_its_edges():
    # six payers of about 2,000 over three weeks (two per weekly cell) and seven
    # small payers of unrelated amounts: the six are under half the payers but
    # carry most of the money, the two at the group's centre do not
    group = [(f"P{i}", "HUB", 2000 + 20 * i, h) for i, h in enumerate([10, 20, 170, 180, 340, 350])]
    amounts = [15, 25, 40, 60, 90, 200, 450]
    amounts_hours = zip(amounts, [30, 60, 200, 250, 320, 400, 420], strict=True)
    small = [(f"S{i}", "HUB", a, h) for i, (a, h) in enumerate(amounts_hours)]
    ev = detect_patterns(frame(background() + group + small)).evidence
    hub = ev.filter((pl.col(S.EV_CODE) == "coordinated_fan") & (pl.col(S.EV_ACCOUNT) == "HUB"))
    assert hub.height == 1
    assert hub[S.EV_REASON][0].startswith("6 of the 13 one-off counterparties of HUB")
    assert "the densest group 93% of the fan's money" in hub[S.EV_REASON][0]


def test_coordinated_payers_of_a_hub_with_mostly_standing_payers_are_ordinary():
    # a hub paid monthly by twelve standing customers, and by six new payers of
    # like amounts within days: a business's trade, a fan but not coordination
    standing = [(f"C{i}", "HUB", 100 + 7 * i, 24 * 30 * m + i) for i in range(12) for m in range(4)]
    new = [(f"P{i}", "HUB", 2000 + 15 * i, 24 * 60 + 11 * i) for i in range(6)]
    ev = detect_patterns(frame(background() + standing + new)).evidence
    assert codes_of(ev, "HUB") == {"fan_in"}
    # without the standing customers the same six payers are coordinated
    ev = detect_patterns(frame(background() + new)).evidence
    assert "coordinated_fan" in codes_of(ev, "HUB")


def test_business_paying_like_amounts_is_no_coordinated_fan():
    # a shop paying six people about the same the same week: wages, not mules
    rows = background() + [("SHOP", f"R{i}", 1200 + 10 * i, 24 * i + 3) for i in range(6)]
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["SHOP"], S.HOLDER_TYPE: ["business"]})
    ev = detect_patterns(frame(rows), accounts=accounts).evidence
    assert "fan_out" in codes_of(ev, "SHOP")
    assert "coordinated_fan" not in set(ev[S.EV_CODE])
    # the same from a personal account is coordinated
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["SHOP"], S.HOLDER_TYPE: ["person"]})
    ev = detect_patterns(frame(rows), accounts=accounts).evidence
    assert "coordinated_fan" in codes_of(ev, "SHOP")


def test_burst_of_coordinated_payers_among_many_ordinary_ones_is_a_coordinated_fan():
    # twenty customers paying small, different amounts every ten days ...
    rows = background() + [(f"C{i}", "HUB", 20 + 9 * i, 24 * 10 * i) for i in range(20)]
    ev = detect_patterns(frame(rows)).evidence
    assert codes_of(ev, "HUB") == {"fan_in"}
    # ... and six payers of about 3,000 within three days: few of the payers,
    # most of the money
    burst = [(f"P{i}", "HUB", 3000 + 20 * i, 24 * 60 + 12 * i) for i in range(6)]
    ev = detect_patterns(frame(rows + burst)).evidence
    coord = ev.filter(pl.col(S.EV_CODE) == "coordinated_fan")
    assert set(coord[S.EV_ACCOUNT]) == {"HUB"} | {f"P{i}" for i in range(6)}
    hub_reason = coord.filter(pl.col(S.EV_ACCOUNT) == "HUB")[S.EV_REASON][0]
    assert hub_reason.startswith("6 of the 24 one-off counterparties of HUB")
    assert "the densest group 91% of the fan's money" in hub_reason


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


def test_cycle_drift_limit_compares_with_the_larger_amount():
    # More comes back than went out (a simulator clamping amounts, a top-up on the
    # way): still a loop under the default limit of 1.0, which accepts any.
    grows = [("A", "B", 400, 0), ("B", "C", 500, 24), ("C", "A", 960, 48)]
    ev = detect_patterns(frame(background() + grows)).evidence
    cyc = ev.filter(pl.col(S.EV_CODE) == "cycle")
    assert set(cyc[S.EV_ACCOUNT]) == {"A", "B", "C"}
    assert "240% of the first amount returned" in cyc[S.EV_REASON][0]
    # a tight limit keeps only loops whose amounts come back nearly whole
    params = {**DEFAULTS, "cycle_max_amount_drift": 0.2}
    ev = detect_patterns(frame(background() + grows), settings=params).evidence
    assert "cycle" not in set(ev[S.EV_CODE])


def test_two_accounts_paying_each_other_back_are_no_cycle():
    # a loan repaid (or a refund) between two accounts is no ring of launderers
    back = [("A", "B", 1000, 0), ("B", "A", 1000, 48)]
    ev = detect_patterns(frame(background() + back)).evidence
    assert "cycle" not in set(ev[S.EV_CODE])
    # three accounts are a ring; and the shortest loop searched is a setting
    ring = [("A", "B", 1000, 0), ("B", "C", 990, 24), ("C", "A", 980, 48)]
    ev = detect_patterns(frame(background() + ring)).evidence
    assert codes_of(ev, "A") == {"cycle"}
    params = {**DEFAULTS, "cycle_min_length": 2}
    ev = detect_patterns(frame(background() + back), settings=params).evidence
    assert set(ev.filter(pl.col(S.EV_CODE) == "cycle")[S.EV_ACCOUNT]) == {"A", "B"}


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


def members(evidence: pl.DataFrame, code: str) -> set[str]:
    return set(evidence.filter(pl.col(S.EV_CODE) == code)[S.EV_ACCOUNT])


def test_scatter_gather_diamond():
    rows = background()
    for i in range(4):
        rows += [("SRC", f"M{i}", 900, i), (f"M{i}", "SINK", 880, 30 + i)]
    ev = detect_patterns(frame(rows)).evidence
    assert members(ev, "scatter_gather") == {"SRC", "SINK", "M0", "M1", "M2", "M3"}
    sg = ev.filter(pl.col(S.EV_CODE) == "scatter_gather")
    roles = dict(zip(sg[S.EV_ACCOUNT], sg[S.EV_ROLE], strict=True))
    assert roles["SINK"] == "collector" and roles["M0"] == "facilitator"
    assert sg[S.EV_TXN_IDS][0].len() == 8


def test_scatter_gather_needs_legs_in_time_order():
    rows = background()
    for i in range(4):  # money "arrives" at the sink before it left the source
        rows += [("SRC", f"M{i}", 900, 100 + i), (f"M{i}", "SINK", 880, i)]
    ev = detect_patterns(frame(rows)).evidence
    assert "scatter_gather" not in set(ev[S.EV_CODE])


def test_gather_scatter_hub():
    rows = background()
    rows += [(f"P{i}", "HUB", 500, i) for i in range(3)]
    rows += [("HUB", f"Q{i}", 480, 24 + i) for i in range(3)]
    ev = detect_patterns(frame(rows)).evidence
    got = ev.filter(pl.col(S.EV_CODE) == "gather_scatter")
    assert set(got[S.EV_ACCOUNT]) == {"HUB", "P0", "P1", "P2", "Q0", "Q1", "Q2"}
    assert got.filter(pl.col(S.EV_ACCOUNT) == "HUB")[S.EV_ROLE][0] == "collector"
    # paying out first and collecting afterwards is not a gather-scatter
    rows = background()
    rows += [("HUB", f"Q{i}", 480, i) for i in range(3)]
    rows += [(f"P{i}", "HUB", 500, 240 + i) for i in range(3)]
    ev = detect_patterns(frame(rows)).evidence
    assert "gather_scatter" not in set(ev[S.EV_CODE])


def test_gather_scatter_with_same_time_transfers_is_the_same_in_any_row_order():
    # day-resolution timestamps: the hub's first payer and first payee on the
    # same day (as in AMLSim's step-numbered exports); payers count as first
    rows = background()
    rows += [(f"P{i}", "HUB", 500, 24 * (i // 2)) for i in range(4)]
    rows += [("HUB", f"Q{i}", 480, 24 * (i // 2)) for i in range(4)]
    seen = set()
    for seed in range(8):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        got = detect_patterns(frame(shuffled)).evidence
        got = got.filter(pl.col(S.EV_CODE) == "gather_scatter").sort(S.EV_ACCOUNT)
        seen.add(tuple(got[S.EV_ACCOUNT]))
    assert seen == {("HUB", "P0", "P1", "P2", "P3", "Q0", "Q1", "Q2", "Q3")}


def test_bipartite_block_and_stack_of_two_blocks():
    rows = background()
    rows += [(f"A{i}", f"B{j}", 700, i + j) for i in range(3) for j in range(3)]
    ev = detect_patterns(frame(rows)).evidence
    assert members(ev, "bipartite") == {f"A{i}" for i in range(3)} | {f"B{j}" for j in range(3)}
    assert "stack" not in set(ev[S.EV_CODE])
    rows += [(f"B{i}", f"C{j}", 650, 48 + i + j) for i in range(3) for j in range(3)]
    ev = detect_patterns(frame(rows)).evidence
    layers = {f"{x}{i}" for x in "ABC" for i in range(3)}
    assert members(ev, "stack") == layers
    assert ev.filter(pl.col(S.EV_CODE) == "bipartite")[S.EV_INSTANCE].n_unique() == 2


def test_pass_through_chain_needs_rapid_hops():
    hops = [
        ("X0", "X1", 5000, 0),
        ("X1", "X2", 4900, 5),
        ("X2", "X3", 4850, 20),
        ("X3", "X4", 4800, 30),
    ]
    ev = detect_patterns(frame(background() + hops)).evidence
    chain = ev.filter(pl.col(S.EV_CODE) == "pass_through_chain")
    assert set(chain[S.EV_ACCOUNT]) == {f"X{i}" for i in range(5)}
    assert chain[S.EV_INSTANCE].n_unique() == 1
    assert "4 one-off hops" in chain[S.EV_REASON][0]
    slow = [
        ("X0", "X1", 5000, 0),
        ("X1", "X2", 4900, 24 * 10),
        ("X2", "X3", 4850, 24 * 20),
        ("X3", "X4", 4800, 24 * 30),
    ]
    ev = detect_patterns(frame(background() + slow)).evidence
    assert "pass_through_chain" not in set(ev[S.EV_CODE])


def test_chain_with_two_equal_last_hops_is_the_same_in_any_row_order():
    # day-resolution timestamps: the last account pays two others the same
    # amount on the same day, two equally strong branches of one chain
    hops = [
        ("X0", "X1", 5000, 0),
        ("X1", "X2", 4900, 24),
        ("X2", "X3", 4850, 48),
        ("X3", "Y", 4800, 72),
        ("X3", "Z", 4800, 72),
    ]
    seen = set()
    for seed in range(8):
        rows = background() + hops
        random.Random(seed).shuffle(rows)
        ev = detect_patterns(frame(rows)).evidence
        chain = ev.filter(pl.col(S.EV_CODE) == "pass_through_chain")
        seen.add(tuple(sorted(chain[S.EV_ACCOUNT])))
    assert len(seen) == 1 and len(next(iter(seen))) == 5


def test_chain_that_passes_on_little_of_the_money_is_weak_evidence():
    whole = [("X0", "X1", 5000, 0), ("X1", "X2", 4900, 5), ("X2", "X3", 4850, 20)]
    # same accounts and timing, but each hop carries on a quarter of the one before
    quarter = [("X0", "X1", 5000, 0), ("X1", "X2", 1250, 5), ("X2", "X3", 310, 20)]
    scores = []
    for hops in (whole, quarter):
        ev = detect_patterns(frame(background() + hops)).evidence
        chain = ev.filter(pl.col(S.EV_CODE) == "pass_through_chain")
        assert set(chain[S.EV_ACCOUNT]) == {"X0", "X1", "X2", "X3"}
        scores.append(chain[S.EV_SCORE].max())
    assert scores[0] > 0.6
    # the strength scales with the share carried on (about a quarter here)
    assert scores[1] < 0.3 * scores[0]


def _with_channel_and_city(rows: list[tuple], channels: list[str], cities: list) -> pl.LazyFrame:
    return frame(rows).with_columns(
        pl.Series(S.CHANNEL, channels, dtype=S.CHANNEL_DTYPE),
        pl.Series(S.LOCATION_CITY, cities, dtype=pl.String),
    )


def test_funnel_cash_in_many_cities_out_to_one_account():
    cities = ["Dallas", "Houston", "Austin", "El Paso", "Tulsa", "Waco"]
    rows = [(S.CASH_NODE, "FUN", 2000, 6 * i) for i in range(6)] + [("FUN", "BOSS", 11000, 40)]
    lf = _with_channel_and_city(rows, ["cash"] * 6 + ["wire"], cities + [None])
    ev = detect_patterns(lf).evidence
    fun = ev.filter(pl.col(S.EV_CODE) == "funnel")
    roles = dict(zip(fun[S.EV_ACCOUNT], fun[S.EV_ROLE], strict=True))
    assert roles == {"FUN": "facilitator", "BOSS": "controller"}
    assert "6 deposits" in fun[S.EV_REASON][0]
    # the same deposits all in one branch, kept in the account: no funnel
    rows = [(S.CASH_NODE, "SHOPKEEPER", 2000, 6 * i) for i in range(6)]
    lf = _with_channel_and_city(rows, ["cash"] * 6, ["Dallas"] * 6)
    assert "funnel" not in set(detect_patterns(lf).evidence[S.EV_CODE])


def test_funnel_does_not_count_a_standing_order_to_own_savings_as_passed_on():
    start = 24 * 70
    deposits = [(f"P{i}", "GIG", 300, start + 5 * i) for i in range(6)]
    # every week for twenty weeks the same amount goes to the same account
    savings = [("GIG", "SAV", 1500, 24 * 7 * w + 100) for w in range(20)]
    ev = detect_patterns(frame(background() + deposits + savings)).evidence
    assert "funnel" not in codes_of(ev, "GIG")
    # the same sweep to an account it never paid before is money passed on
    once = [("GIG", "NEW", 1500, start + 100)]
    ev = detect_patterns(frame(background() + deposits + once)).evidence
    assert "funnel" in codes_of(ev, "GIG")
    # and with the standing-payee test turned off the savings count again
    params = {**DEFAULTS, "standing_min_transfers": 0}
    ev = detect_patterns(frame(background() + deposits + savings), settings=params).evidence
    assert "funnel" in codes_of(ev, "GIG")


def test_shared_identifier_cluster_roles_follow_the_money():
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["V1", "V2", "V3", "CTL", "OTHER"],
            S.HOLDER_ID: ["h1", "h2", "h3", "h4", "h5"],
            S.PHONE: ["+1 555-0101", "+1 5550101", "+1 (555) 0101", None, "+1 555 0199"],
            S.DEVICE_ID: [None, None, "dev-9", "dev-9", "dev-1"],
        }
    )
    rows = [("V1", "CTL", 800, 1), ("V2", "CTL", 700, 2), ("V3", "CTL", 750, 3)]
    ev = detect_patterns(frame(rows), accounts=accounts).evidence
    sh = ev.filter(pl.col(S.EV_CODE) == "shared_identifiers")
    roles = dict(zip(sh[S.EV_ACCOUNT], sh[S.EV_ROLE], strict=True))
    assert roles == {"V1": "victim", "V2": "victim", "V3": "victim", "CTL": "controller"}
    assert sh[S.EV_INSTANCE].n_unique() == 1
    assert sorted(sh[S.EV_TXN_IDS][0].to_list()) == ["t0", "t1", "t2"]


def test_shared_identifier_controller_is_found_beside_a_business_paying_its_owner():
    # five holders at one address (a cluster by their number); a business
    # shares its owner's phone and pays him more than the victims sweep to CTL
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["V1", "V2", "CTL", "OWNER", "SHOP", "MATE"],
            S.HOLDER_ID: ["h1", "h2", "h3", "h4", "b1", "h5"],
            S.HOLDER_TYPE: ["person", "person", "person", "person", "business", "person"],
            S.ADDRESS: ["1 Elm St"] * 4 + [None, "1 Elm St"],
            S.PHONE: [None, None, None, "+1 555 0100", "+1 555 0100", None],
        }
    )
    rows = [("V1", "CTL", 400, 1), ("V2", "CTL", 450, 2), ("V1", "CTL", 380, 30)]
    rows += [("SHOP", "OWNER", 9000, 5)]
    ev = detect_patterns(frame(rows), accounts=accounts).evidence
    sh = ev.filter(pl.col(S.EV_CODE) == "shared_identifiers")
    roles = dict(zip(sh[S.EV_ACCOUNT], sh[S.EV_ROLE], strict=True))
    assert roles == {"V1": "victim", "V2": "victim", "CTL": "controller"}
    # the housemate and the owner with his business take no part in the money
    # to a controller: no evidence about them, and the controller's outranks
    # what the sharing alone would give
    assert not {"MATE", "OWNER", "SHOP"} & set(roles)


def test_a_business_sharing_its_owners_phone_is_not_a_cluster():
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["OWNER", "SHOP"],
            S.HOLDER_ID: ["h1", "b1"],
            S.HOLDER_TYPE: ["person", "business"],
            S.PHONE: ["+1 555 0100", "+1 555 0100"],
        }
    )
    res = detect_patterns(frame(background() + [("SHOP", "OWNER", 9000, 5)]), accounts=accounts)
    assert "shared_identifiers" not in set(res.evidence[S.EV_CODE])
    # two people on one phone still are
    people = accounts.with_columns(pl.lit("person").alias(S.HOLDER_TYPE))
    res = detect_patterns(frame(background()), accounts=people)
    assert members(res.evidence, "shared_identifiers") == {"OWNER", "SHOP"}


def test_shared_identifiers_of_one_holder_are_not_a_cluster():
    accounts = pl.DataFrame(
        {S.ACCOUNT_ID: ["A1", "A2"], S.HOLDER_ID: ["h1", "h1"], S.EMAIL: ["a@x.io", "A@X.io"]}
    )
    res = detect_patterns(frame(background()), accounts=accounts)
    assert "shared_identifiers" not in set(res.evidence[S.EV_CODE])


def test_missing_accounts_table_gives_a_notice_not_an_error():
    res = detect_patterns(frame(background()))
    assert any("shared_identifiers" in n for n in res.notices)


def test_missing_required_column_is_an_input_error():
    from moneytrail.errors import InputError

    with pytest.raises(InputError):
        detect_patterns(frame(background()).drop(S.AMOUNT))


def test_empty_input_gives_empty_evidence():
    res = detect_patterns(frame([]))
    assert res.evidence.height == 0
    assert res.evidence.schema == pl.Schema(S.EVIDENCE_SCHEMA)


def test_household_sharing_address_and_ip_is_not_a_cluster_but_a_shared_phone_is():
    household = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["M1", "M2"],
            S.HOLDER_ID: ["h1", "h2"],
            S.ADDRESS: ["12 Oak Ave, Reno", "12 oak ave reno"],
            S.IP: ["24.1.2.3", "24.1.2.3"],
        }
    )
    res = detect_patterns(frame(background()), accounts=household)
    assert "shared_identifiers" not in set(res.evidence[S.EV_CODE])
    phone = household.with_columns(pl.lit("+1 555 0101").alias(S.PHONE))
    res = detect_patterns(frame(background()), accounts=phone)
    assert members(res.evidence, "shared_identifiers") == {"M1", "M2"}


def test_fan_of_small_change_is_not_reported():
    hours = [0, 3, 11, 14, 30, 31, 52, 70]
    rows = background() + [(f"P{i}", "HUB", 20, h) for i, h in enumerate(hours)]
    assert "fan_in" not in set(detect_patterns(frame(rows)).evidence[S.EV_CODE])


def test_gather_scatter_members_paying_like_amounts_carry_full_weight():
    rows = background()
    rows += [(f"P{i}", "HUB", a, i) for i, a in enumerate([500, 520, 540, 60])]
    rows += [("HUB", f"Q{i}", 480, 24 + i) for i in range(3)]
    got = detect_patterns(frame(rows)).evidence.filter(pl.col(S.EV_CODE) == "gather_scatter")
    score = dict(zip(got[S.EV_ACCOUNT], got[S.EV_SCORE], strict=True))
    assert score["P0"] == score["Q0"] == score["HUB"]
    # the payer of 60 among payers of about 500 is weaker evidence
    assert score["P3"] == pytest.approx(DEFAULTS["gather_loose_member_weight"] * score["HUB"])
    assert score["P3"] < score["HUB"]
    params = {**DEFAULTS, "gather_member_amount_ratio": None}
    got = detect_patterns(frame(rows), settings=params).evidence
    got = got.filter(pl.col(S.EV_CODE) == "gather_scatter")
    assert got[S.EV_SCORE].n_unique() == 1


def test_gather_scatter_must_pass_on_what_it_collected():
    rows = background()
    rows += [(f"P{i}", "HUB", 30, i) for i in range(3)]  # pocket money in
    rows += [("HUB", f"Q{i}", 900, 24 + i) for i in range(3)]  # bills out
    assert "gather_scatter" not in set(detect_patterns(frame(rows)).evidence[S.EV_CODE])


def test_fan_threshold_rises_where_everybody_pays_new_people():
    rng = [
        (f"U{i}", f"U{(i * 7 + j * 13 + 1) % 200}", 400, 5 * j + i % 5)
        for i in range(200)
        for j in range(4)
    ]
    hours = [0, 3, 11, 14, 30, 31]
    hub = [(f"P{i}", "HUB", 300, h) for i, h in enumerate(hours)]
    assert "HUB" in members(detect_patterns(frame(background() + hub)).evidence, "fan_in")
    ev = detect_patterns(frame(background() + rng + hub)).evidence
    assert "HUB" not in members(ev, "fan_in")


def test_neighbourhood_is_capped_and_never_expands_through_cash():
    rows = [("A", f"B{i}", 100 - i, i) for i in range(50)]
    rows += [("A", S.CASH_NODE, 10, 60), (S.CASH_NODE, "Z", 10, 61)]
    g = neighbourhood(frame(rows), ["A"], hops=2, max_nodes=10)
    assert g.number_of_nodes() == 10
    assert "B0" in g  # the biggest flows are kept
    g = neighbourhood(frame(rows), ["A"], hops=2)
    assert S.CASH_NODE in g and "Z" not in g


def test_coordinated_spokes_outweigh_a_busy_accounts_ordinary_payers():
    # eight payers sending about the same amount within a few days ...
    hours = [0, 3, 11, 14, 30, 31, 52, 70]
    ring = [(f"P{i}", "HUB", 2500 + 40 * i, h) for i, h in enumerate(hours)]
    # ... and eight customers paying whatever they owe over five months
    amounts = [60, 900, 140, 3000, 310, 75, 1800, 420]
    days = [0, 9, 31, 40, 77, 95, 120, 151]
    trade = [
        (f"C{i}", "SHOP", a, 24 * d) for i, (a, d) in enumerate(zip(amounts, days, strict=True))
    ]
    ev = detect_patterns(frame(background() + ring + trade)).evidence
    fan = ev.filter(pl.col(S.EV_CODE) == "fan_in")
    score = dict(zip(fan[S.EV_ACCOUNT], fan[S.EV_SCORE], strict=True))
    assert {"HUB", "SHOP"} <= set(score)
    ring_spokes = [score[f"P{i}"] for i in range(8)]
    trade_spokes = [score.get(f"C{i}", 0.0) for i in range(8)]
    # relative to their own hub, so the hubs' different scores do not decide it
    assert min(ring_spokes) / score["HUB"] >= max(trade_spokes) / score["SHOP"] + 0.05
    hub_reason = fan.filter(pl.col(S.EV_ACCOUNT) == "HUB")[S.EV_REASON][0]
    assert "similar amounts around the same time: 8" in hub_reason


def test_ordinary_payers_of_busy_accounts_are_not_reported_where_most_accounts_are_such():
    hours = [0, 3, 11, 14, 30, 31, 52, 70]
    ring = [(f"P{i}", "HUB", 2500 + 40 * i, h) for i, h in enumerate(hours)]
    # forty customers, each paying one of four shops once, at any time over five
    # months, amounts far apart (whatever each one owes)
    rng = random.Random(3)
    trade = [
        (f"C{i}", f"SHOP{i % 4}", 50 * 1.7 ** ((i // 4) % 8), rng.uniform(0, 24 * 150))
        for i in range(40)
    ]
    ev = detect_patterns(frame(background() + ring + trade)).evidence
    fan_in = members(ev, "fan_in")
    assert {"HUB", "SHOP0", "SHOP1", "SHOP2", "SHOP3"} <= fan_in
    assert {f"P{i}" for i in range(8)} <= fan_in
    assert not {f"C{i}" for i in range(40)} & fan_in


def test_two_hop_rapid_forward_is_a_chain_when_two_hops_are_enough():
    # AMLworld's STACK blocks: money received and sent straight on once
    quick = [("S0", "S1", 4155, 0), ("S1", "S2", 4100, 12)]
    assert "pass_through_chain" not in set(detect_patterns(frame(quick)).evidence[S.EV_CODE])
    two = {**DEFAULTS, "chain_min_hops": 2}
    ev = detect_patterns(frame(background() + quick), settings=two).evidence
    assert members(ev, "pass_through_chain") == {"S0", "S1", "S2"}
    slow = [("S0", "S1", 4155, 0), ("S1", "S2", 4100, 24 * 9)]
    ev = detect_patterns(frame(background() + slow), settings=two).evidence
    assert "pass_through_chain" not in set(ev[S.EV_CODE])


def test_new_payers_arriving_like_clockwork_are_a_fan_in():
    # one new payer a day for twelve days (scheduled collection; exports with
    # day-resolution timestamps show any one-a-day fan like this)
    rows = background() + [(f"P{i}", "HUB", 600 + 13 * i, 24 * i) for i in range(12)]
    ev = detect_patterns(frame(rows)).evidence
    assert members(ev, "fan_in") == {"HUB"} | {f"P{i}" for i in range(12)}


def test_instance_ids_do_not_depend_on_row_order():
    """Cases and reports link accounts by instance id: the same export in another
    row order must give the same ids to the same members."""
    rows = background() + [
        (f"P{i}", f"H{h}", 400 + i, 24 * h + i) for h in range(3) for i in range(8)
    ] + [("A", "B", 1000, 72), ("B", "C", 980, 96), ("C", "A", 960, 120)]
    first = frame(rows).collect()
    shuffled = first.sample(fraction=1.0, shuffle=True, seed=3).lazy()
    key = [S.EV_CODE, S.EV_ACCOUNT, S.EV_INSTANCE]
    a = detect_patterns(first.lazy()).evidence.select(key).sort(key)
    b = detect_patterns(shuffled).evidence.select(key).sort(key)
    assert a.height > 0 and a[S.EV_INSTANCE].n_unique() > 1
    assert a.equals(b)
