"""Scoring: constellations outrank single hits, levels, alerts, roles."""

import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.evidence import evidence_frame
from moneytrail.params import Params, load_params, settings
from moneytrail.scoring import DEFAULTS, score_accounts, select_alerts


def _evidence(rows):
    return evidence_frame(pl.DataFrame(rows))


def _row(account, code, score=0.8, severity="high", detector="rule", role=None, reason=None):
    return {
        S.EV_ACCOUNT: account,
        S.EV_DETECTOR: detector,
        S.EV_CODE: code,
        S.EV_SCORE: score,
        S.EV_SEVERITY: severity,
        S.EV_REASON: reason or f"{code} fired",
        S.EV_ROLE: role,
    }


def test_constellation_outranks_single_strong_hit():
    ev = _evidence(
        [
            _row("single", "R-A", score=1.0, severity="critical"),
            _row("trio", "R-A", score=0.6, severity="medium"),
            _row("trio", "R-B", score=0.6, severity="medium"),
            _row("trio", "fan_in", score=0.6, severity="medium", detector="pattern"),
        ]
    )
    scores = score_accounts(ev, pl.DataFrame({S.ACCOUNT_ID: ["single", "trio", "quiet"]}))
    order = scores[S.SC_ACCOUNT].to_list()
    assert order == ["trio", "single", "quiet"]
    assert scores.filter(pl.col(S.SC_ACCOUNT) == "quiet")[S.SC_RISK].item() == 0.0
    assert scores[S.SC_RANK].to_list() == [1, 2, 3]
    assert list(scores.columns) == list(S.SCORE_COLUMNS)


def test_repeated_hits_of_one_rule_count_once():
    ev = _evidence([_row("a", "R-A")] + [_row("b", "R-A") for _ in range(5)])
    scores = score_accounts(ev, pl.DataFrame({S.ACCOUNT_ID: ["a", "b"]}))
    risks = dict(scores.select(S.SC_ACCOUNT, S.SC_RISK).iter_rows())
    assert risks["a"] == pytest.approx(risks["b"])
    assert scores.filter(pl.col(S.SC_ACCOUNT) == "b")[S.SC_N_EVIDENCE].item() == 5


def test_role_comes_from_strongest_evidence_and_reasons_are_ranked():
    ev = _evidence(
        [
            _row("a", "R-A", score=0.3, role="victim", reason="weak"),
            _row("a", "R-B", score=0.9, role="controller", reason="strong"),
        ]
    )
    row = score_accounts(ev, pl.DataFrame({S.ACCOUNT_ID: ["a"]})).row(0, named=True)
    assert row[S.SC_ROLE] == "controller"
    assert row[S.SC_REASONS].startswith("strong")
    assert row[S.SC_CODES] == "R-B;R-A"


def test_a_sextortion_victim_is_not_called_a_facilitator_for_being_a_spoke():
    # The teen's payments make it a spoke of the extortioner's fan (structural role
    # facilitator, the heaviest evidence); the victim indicator is what it is.
    ev = _evidence(
        [
            _row("teen", "fan_in", score=1.0, severity="critical", detector="pattern",
                 role="facilitator"),
            _row("teen", "CSE-SXT-01", score=0.3, severity="medium", role="extortion_victim"),
            # a trafficking role read from the evidence stays: it is not structural
            _row("coll", "CSE-SXT-02", score=1.0, severity="critical", role="collector"),
            _row("coll", "CSE-SXT-01", score=0.3, severity="medium", role="extortion_victim"),
            # the broad victim indicators (cash in circuit cities) fire on couriers too
            _row("mule", "fan_in", score=1.0, severity="critical", detector="pattern",
                 role="facilitator"),
            _row("mule", "HT-FUNNEL-01", score=0.3, severity="medium", role="victim"),
        ]
    )
    roles = dict(score_accounts(ev, pl.DataFrame({S.ACCOUNT_ID: ["teen", "coll", "mule"]}))
                 .select(S.SC_ACCOUNT, S.SC_ROLE).iter_rows())
    assert roles == {"teen": "extortion_victim", "coll": "collector", "mule": "facilitator"}


def test_levels_alerts_and_top_k_budget():
    ev = _evidence(
        [
            _row("hot", "R-A", severity="critical", score=1.0),
            _row("hot", "R-B", severity="critical", score=1.0),
            _row("warm", "R-C", severity="low", score=0.5),
        ]
    )
    universe = pl.DataFrame({S.ACCOUNT_ID: ["hot", "warm", "cold"]})
    scores = score_accounts(ev, universe, {"rarity_floor": 1.0})
    levels = dict(scores.select(S.SC_ACCOUNT, S.SC_LEVEL).iter_rows())
    assert levels == {"hot": "critical", "warm": "low", "cold": "none"}
    assert select_alerts(scores)[S.SC_ACCOUNT].to_list() == ["hot"]
    budget = {**DEFAULTS, "top_k": 5, "rarity_floor": 1.0}
    # the budget alerts accounts with evidence, never accounts without any
    assert select_alerts(scores, budget)[S.SC_ACCOUNT].to_list() == ["hot", "warm"]


def test_weights_come_from_params():
    ev = _evidence([_row("a", "R-A"), _row("b", "R-B")])
    params = load_params(overrides=("scoring.code_weights={R-A: 0.1}",))
    chosen = settings(params, "scoring", DEFAULTS)
    scores = score_accounts(ev, pl.DataFrame({S.ACCOUNT_ID: ["a", "b"]}), chosen)
    assert scores[S.SC_ACCOUNT].to_list() == ["b", "a"]


def test_unknown_scoring_setting_is_an_error():
    from moneytrail.errors import ParamsError

    with pytest.raises(ParamsError, match="unknown scoring setting"):
        settings(Params(stages={"scoring": {"alert_treshold": 1}}), "scoring", DEFAULTS)


def test_an_indicator_on_most_accounts_weighs_less_than_a_rare_one():
    universe = pl.DataFrame({S.ACCOUNT_ID: [f"a{i}" for i in range(100)]})
    common = [_row(f"a{i}", "COMMON", score=0.9) for i in range(60)]
    ev = _evidence(common + [_row("a99", "RARE", score=0.9)])
    scores = score_accounts(ev, universe)
    risks = dict(scores.select(S.SC_ACCOUNT, S.SC_RISK).iter_rows())
    assert risks["a99"] > risks["a0"] > 0


def test_accounts_of_equal_risk_are_ordered_by_the_tie_break_then_id():
    universe = pl.DataFrame({S.ACCOUNT_ID: ["a", "b", "c", "d"]})
    ev = _evidence([_row("d", "RARE", score=0.9)])
    unusual = pl.DataFrame(
        {S.ACCOUNT_ID: ["a", "b", "c", "d"], "outlier_score": [0.1, 0.9, None, 0.0]}
    )
    ranked = score_accounts(ev, universe, tie_break=unusual)[S.SC_ACCOUNT].to_list()
    # evidence first; among the accounts without any, the most unusual; no score last
    assert ranked == ["d", "b", "a", "c"]
    assert score_accounts(ev, universe)[S.SC_ACCOUNT].to_list() == ["d", "a", "b", "c"]
