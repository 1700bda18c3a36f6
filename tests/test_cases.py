"""Cases: alerted accounts linked by evidence become one case."""

from datetime import datetime

import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.cases import build_cases, stream_cases, write_cases
from moneytrail.evidence import evidence_frame
from moneytrail.scoring import score_accounts, select_alerts


def _txns(rows):
    frame = pl.DataFrame(
        rows, schema=[S.TXN_ID, S.FROM_ACCOUNT, S.TO_ACCOUNT, S.AMOUNT, S.TIMESTAMP], orient="row"
    )
    return frame.with_columns(pl.lit("USD").alias(S.CURRENCY)).lazy()


def _ev(account, code, txn_ids=None, instance=None, role=None, detector="rule"):
    return {
        S.EV_ACCOUNT: account, S.EV_DETECTOR: detector, S.EV_CODE: code, S.EV_SCORE: 1.0,
        S.EV_SEVERITY: "critical", S.EV_REASON: code, S.EV_TXN_IDS: txn_ids,
        S.EV_INSTANCE: instance, S.EV_ROLE: role,
    }


def _scan(evidence_rows, txns, accounts=None):
    evidence = evidence_frame(pl.DataFrame(evidence_rows))
    universe = pl.DataFrame({S.ACCOUNT_ID: ["A", "B", "C", "D", "E", "F"]})
    scores = score_accounts(evidence, universe, NO_RARITY)
    alerts = select_alerts(scores)
    return build_cases(alerts, evidence, txns, accounts)


# Tiny universes where every code fires on most accounts: weigh codes fully.
NO_RARITY = {"rarity_floor": 1.0}

T0 = datetime(2024, 3, 1, 10)
T1 = datetime(2024, 3, 2, 10)
T2 = datetime(2024, 3, 3, 10)


def test_members_of_one_instance_and_supporting_flows_form_cases():
    txns = _txns(
        [
            ("t1", "A", "B", 100.0, T0),  # supports A's evidence: links A and B
            ("t2", "C", "D", 50.0, T1),  # a flow between alerted accounts, supporting nothing
            ("t3", "CASH", "C", 900.0, T2),
            ("t4", "E", "F", 10.0, T2),
        ]
    )
    rows = [
        _ev("A", "R-1", ["t1"], role="collector"), _ev("A", "R-2", ["t1"]),
        _ev("B", "R-1", ["t1"]), _ev("B", "R-3"),
        _ev("C", "R-1", ["t3"]), _ev("C", "R-2"),
        _ev("D", "R-1"), _ev("D", "R-2"),
        _ev("E", "fan_in", instance="fan:1", detector="pattern"), _ev("E", "R-1"),
        _ev("F", "fan_in", instance="fan:1", detector="pattern"), _ev("F", "R-1"),
    ]
    cases, case_of = _scan(rows, txns)
    groups = sorted(sorted(c["account_id"] for c in case["accounts"]) for case in cases)
    assert groups == [["A", "B"], ["C"], ["D"], ["E", "F"]]
    assert case_of.height == 6
    by_members = {tuple(sorted(a["account_id"] for a in c["accounts"])): c for c in cases}
    ab = by_members[("A", "B")]
    assert ab["links"] == [
        {"from": "A", "to": "B", "n": 1, "total": 100.0,
         "first": T0.isoformat(), "last": T0.isoformat()}
    ]
    assert ab["total_value"] == 100.0 and ab["txn_ids"] == ["t1"]
    # the cash deposit into C belongs to C's case and its timeline
    c = by_members[("C",)]
    assert c["total_value"] == 900.0 and c["links"][0]["from"] == S.CASH_NODE
    assert by_members[("E", "F")]["typologies"] == ["fan_in"]
    assert cases == sorted(cases, key=lambda x: -x["score"])
    assert all(case["summary"] for case in cases)


def test_cases_json_is_written_one_case_at_a_time_as_json_writes_the_list(tmp_path):
    import json

    from moneytrail.report.scan_output import CaseIndex

    txns = _txns([("t1", "A", "B", 100.0, T0), ("t3", "CASH", "C", 900.0, T2)])
    rows = [_ev("A", "R-1", ["t1"]), _ev("A", "R-2"), _ev("B", "R-1", ["t1"]), _ev("B", "R-3"),
            _ev("C", "R-1", ["t3"]), _ev("C", "R-2")]
    cases, _ = _scan(rows, txns)
    evidence = evidence_frame(pl.DataFrame(rows))
    alerts = select_alerts(score_accounts(
        evidence, pl.DataFrame({S.ACCOUNT_ID: ["A", "B", "C"]}), NO_RARITY))
    streamed, _ = stream_cases(alerts, evidence, txns)
    path = tmp_path / "cases.json"
    assert write_cases(path, streamed) == len(cases) == 2
    assert path.read_text() == json.dumps({"cases": cases}, default=str)
    assert list(CaseIndex(path)) == cases
    write_cases(path, iter([]))
    assert json.loads(path.read_text()) == {"cases": []}


def test_shared_identifiers_link_accounts():
    txns = _txns([("t1", "A", "X", 5.0, T0)])
    accounts = pl.DataFrame(
        {
            S.ACCOUNT_ID: ["A", "B", "C"],
            S.PHONE: ["555", "555", None],
            S.ADDRESS: ["1 Rd", "2 Rd", "1 Rd"],
        }
    )
    rows = [_ev(a, code) for a in "ABC" for code in ("R-1", "R-2")]
    cases, _ = _scan(rows, txns, accounts)
    assert len(cases) == 1
    shared = cases[0]["shared_identifiers"]
    assert {"kind": "phone", "value": "555", "accounts": ["A", "B"]} in shared
    assert {"kind": "address", "value": "1 Rd", "accounts": ["A", "C"]} in shared


def test_no_alerts_no_cases():
    txns = _txns([("t1", "A", "B", 5.0, T0)])
    cases, case_of = _scan([_ev("A", "R-1") | {S.EV_SEVERITY: "low", S.EV_SCORE: 0.1}], txns)
    assert cases == [] and case_of.height == 0


def test_large_linked_groups_are_split_into_communities():
    # two tight groups of six, joined by one shared identifier between them
    group_a = [f"A{i}" for i in range(6)]
    group_b = [f"B{i}" for i in range(6)]
    rows = [
        _ev(a, code, instance=f"inst-{g}", detector="pattern")
        for g, members in (("a", group_a), ("b", group_b))
        for a in members
        for code in ("fan_in", "cycle")
    ]
    evidence = evidence_frame(pl.DataFrame(rows))
    universe = pl.DataFrame({S.ACCOUNT_ID: group_a + group_b})
    alerts = select_alerts(score_accounts(evidence, universe, NO_RARITY))
    accounts = pl.DataFrame({S.ACCOUNT_ID: ["A0", "B0"], S.PHONE: ["555", "555"]})
    txns = _txns([("t1", "A0", "B0", 5.0, T0)])
    joined, _ = build_cases(alerts, evidence, txns, accounts)
    assert [c["n_accounts"] for c in joined] == [12]
    split, _ = build_cases(alerts, evidence, txns, accounts, {"max_case_accounts": 8})
    groups = sorted(sorted(a["account_id"] for a in c["accounts"]) for c in split)
    assert groups == [sorted(group_a), sorted(group_b)]


def test_splitting_repeats_until_cases_fit_the_limit():
    # Thirty small rings of five joined in a ring: modularity first merges
    # neighbouring rings into groups of ten and more, still over a limit of 8.
    rings = [[f"R{r:02d}{i}" for i in range(5)] for r in range(30)]
    rows = [
        _ev(a, "cycle", instance=f"ring-{r}", detector="pattern")
        for r, members in enumerate(rings)
        for a in members
    ]
    evidence = evidence_frame(pl.DataFrame(rows))
    universe = pl.DataFrame({S.ACCOUNT_ID: [a for ring in rings for a in ring]})
    alerts = select_alerts(score_accounts(evidence, universe, NO_RARITY))
    links = [(f"t{r}", rings[r][0], rings[(r + 1) % 30][1], 5.0, T0) for r in range(30)]
    # each joining transfer supports evidence of its sender, so it links the rings
    rows += [_ev(rings[r][0], "pass_through_chain", instance=None, detector="pattern",
                 txn_ids=[f"t{r}"]) for r in range(30)]
    evidence = evidence_frame(pl.DataFrame(rows, infer_schema_length=None))
    cases, _ = build_cases(alerts, evidence, _txns(links), None, {"max_case_accounts": 8})
    assert max(c["n_accounts"] for c in cases) <= 8
    members = [a["account_id"] for c in cases for a in c["accounts"]]
    assert sorted(members) == sorted(a for ring in rings for a in ring)
    # each case is one ring, give or take a joining account of the next
    assert all(len({a["account_id"][:3] for a in c["accounts"]}) <= 2 for c in cases)


def test_faint_evidence_links_nothing():
    txns = _txns([("t1", "A", "B", 100.0, T0)])
    faint = {S.EV_SCORE: 0.2}
    rows = [
        _ev("A", "R-1"), _ev("A", "R-2"),
        _ev("B", "R-1"), _ev("B", "R-2"),
        _ev("A", "fan_in", ["t1"], instance="fan:1", detector="pattern") | faint,
        _ev("B", "fan_in", ["t1"], instance="fan:1", detector="pattern") | faint,
    ]
    cases, _ = _scan(rows, txns)
    assert sorted(c["n_accounts"] for c in cases) == [1, 1]


def test_a_transfer_links_its_ends_only_through_their_own_evidence():
    # C's pattern lists the transfer A -> B among its transactions, but neither A's
    # nor B's evidence cites it: it says nothing about how A and B are linked.
    txns = _txns([("t1", "A", "B", 100.0, T0), ("t2", "C", "D", 50.0, T1)])
    rows = [
        _ev("A", "R-1"), _ev("A", "R-2"),
        _ev("B", "R-1"), _ev("B", "R-2"),
        _ev("C", "R-1", ["t1"]), _ev("C", "R-2"),
        _ev("D", "R-1", ["t2"]), _ev("D", "R-2"),
    ]
    cases, _ = _scan(rows, txns)
    groups = sorted(sorted(a["account_id"] for a in c["accounts"]) for c in cases)
    # t2 is D's own evidence: C and D are linked; A and B stay apart
    assert groups == [["A"], ["B"], ["C", "D"]]


def _alerts(risks: dict[str, float]) -> pl.DataFrame:
    ordered = sorted(risks, key=lambda a: (-risks[a], a))
    return pl.DataFrame({
        S.SC_ACCOUNT: ordered,
        S.SC_RISK: [risks[a] for a in ordered],
        S.SC_RANK: list(range(1, len(ordered) + 1)),
        S.SC_LEVEL: ["high"] * len(ordered),
        S.SC_ROLE: [None] * len(ordered),
        S.SC_CODES: ["R-1"] * len(ordered),
    })


def test_a_tight_strong_case_comes_before_a_hub_with_many_weak_accounts():
    # HUB is the riskiest account, linked by its fan to eight weak accounts; P and
    # Q are two strong accounts of one cycle. An analyst reads every account of a
    # case, so the tight pair comes first, though HUB outranks P.
    weak = [f"W{i}" for i in range(8)]
    risks = {"HUB": 0.95, "P": 0.9, "Q": 0.88, **{w: 0.3 for w in weak}}
    rows = [_ev(a, "fan_in", instance="fan:1", detector="pattern") for a in ["HUB", *weak]]
    rows += [_ev(a, "cycle", instance="cycle:1", detector="pattern") for a in ("P", "Q")]
    unrelated = _txns([("t0", "X", "Y", 1.0, T0)])
    cases, _ = build_cases(_alerts(risks), evidence_frame(pl.DataFrame(rows)), unrelated)
    assert [c["n_accounts"] for c in cases] == [2, 9]
    pair, hub = cases
    # the geometric mean of the riskiest member's risk and the members' mean risk
    assert pair["score"] == pytest.approx((0.9 * (0.9 + 0.88) / 2) ** 0.5, abs=1e-6)
    assert hub["score"] == pytest.approx((0.95 * (0.95 + 8 * 0.3) / 9) ** 0.5, abs=1e-6)
    # a case of one account keeps that account's risk
    single, _ = build_cases(_alerts({"HUB": 0.95}), evidence_frame(pl.DataFrame(rows[:1])),
                            unrelated)
    assert single[0]["score"] == pytest.approx(0.95)


def test_case_split_is_the_same_in_every_process():
    # Python salts string hashes per process; the split must not depend on that.
    import os
    import subprocess
    import sys

    script = (
        "import networkx as nx\n"
        "from moneytrail.cases import _split_large\n"
        "g = nx.relabel_nodes(nx.gnm_random_graph(150, 400, seed=3), lambda n: f'acct-{n}')\n"
        "print(sorted(sorted(c) for c in _split_large(g, 20)))\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2, 3, 4)
    }
    assert len(runs) == 1
