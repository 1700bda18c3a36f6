import numpy as np
import polars as pl
import pytest

from moneytrail import schema as S
from moneytrail.errors import ParamsError
from moneytrail.evidence import evidence_frame
from moneytrail.features import PEER_GROUP
from moneytrail.outliers import DEFAULTS, RANK, SCORE, detect_outliers


def accounts(n=600, seed=0, planted=("P0", "P1", "P2")):
    """Ordinary accounts plus a few far out on value, flow-through and counterparties."""
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            S.ACCOUNT_ID: [f"A{i:04d}" for i in range(n)],
            "in_count": rng.poisson(10, n).astype(float),
            "in_total": rng.lognormal(7, 0.5, n),
            "flow_through_24h": rng.beta(1, 8, n),
            "in_counterparties": rng.poisson(3, n).astype(float),
            "constant": np.ones(n),
            "sometimes_missing": np.where(rng.random(n) < 0.3, np.nan, rng.normal(0, 1, n)),
        }
    )
    odd = pl.DataFrame(
        {
            S.ACCOUNT_ID: list(planted),
            "in_count": [11.0] * len(planted),
            "in_total": [50_000.0 + 1000 * i for i in range(len(planted))],
            "flow_through_24h": [0.99] * len(planted),
            "in_counterparties": [60.0 + i for i in range(len(planted))],
            "constant": [1.0] * len(planted),
            "sometimes_missing": [None] * len(planted),
        }
    )
    return pl.concat([frame, odd])


DESCRIPTIONS = {"flow_through_24h": "share of inflow sent on within 24 h"}


def test_planted_outliers_rank_first_with_reasons_naming_their_features():
    res = detect_outliers(accounts(), descriptions=DESCRIPTIONS)
    top3 = res.scores.sort(RANK).head(3).get_column(S.ACCOUNT_ID).to_list()
    assert sorted(top3) == ["P0", "P1", "P2"]
    assert "constant" not in res.features_used
    ev = res.evidence
    assert ev.height == res.top_k == 20  # min_top_k beats 1 % of 603
    assert set(ev[S.EV_DETECTOR]) == {"outlier"}
    p0 = ev.filter(pl.col(S.EV_ACCOUNT) == "P0").row(0, named=True)
    assert "in_counterparties = 60" in p0[S.EV_REASON]
    assert "flow_through_24h = 0.99 (share of inflow sent on within 24 h" in p0[S.EV_REASON]
    assert p0[S.EV_SEVERITY] in ("high", "medium")
    assert ev.sort(S.EV_SCORE, descending=True)[S.EV_SEVERITY][0] == "high"


def test_scores_cover_every_account_and_evidence_fits_the_schema():
    feats = accounts()
    res = detect_outliers(feats)
    assert res.scores.height == feats.height
    assert set(res.scores[S.ACCOUNT_ID]) == set(feats[S.ACCOUNT_ID])
    for col in [f"{m}_score" for m in DEFAULTS["models"]] + [SCORE]:
        assert res.scores[col].is_finite().all()
    assert sorted(res.scores[RANK]) == list(range(1, feats.height + 1))
    assert evidence_frame(res.evidence).height == res.evidence.height
    ev = res.evidence.join(res.scores, left_on=S.EV_ACCOUNT, right_on=S.ACCOUNT_ID)
    # score 1 for rank 1, falling with rank; every evidence account inside the budget
    assert ev.sort(RANK)[S.EV_SCORE].to_list() == sorted(ev[S.EV_SCORE], reverse=True)
    assert ev[S.EV_SCORE].max() == 1.0 and ev[S.EV_SCORE].min() > 0
    assert ev[RANK].max() == res.top_k
    assert set(ev[S.EV_SEVERITY]) == {"high", "medium", "low"}


def test_deterministic():
    a = detect_outliers(accounts())
    b = detect_outliers(accounts())
    assert a.scores.equals(b.scores)
    assert a.evidence.equals(b.evidence)


def test_budget_settings_and_combination():
    feats = accounts(n=3000)
    assert detect_outliers(feats).top_k == 31  # 1 % rounded up
    res = detect_outliers(feats, settings={"top_k": 5})
    assert res.evidence.height == 5
    res = detect_outliers(feats, settings={"combine": "max", "models": ["ecod", "iforest"]})
    both = res.scores.select(pl.max_horizontal("ecod_score", "iforest_score"))
    assert np.allclose(res.scores[SCORE].to_numpy(), both.to_series().to_numpy())
    assert "copod_score" not in res.scores.columns


def test_fit_on_a_sample_scores_everyone_and_agrees_with_a_full_fit():
    feats = accounts(n=2000)
    full = detect_outliers(feats)
    sampled = detect_outliers(feats, settings={"fit_sample": 500})
    assert sampled.scores.height == feats.height
    top = sampled.scores.sort(RANK).head(3).get_column(S.ACCOUNT_ID).to_list()
    assert sorted(top) == ["P0", "P1", "P2"]
    joined = full.scores.join(sampled.scores, on=S.ACCOUNT_ID)
    rho = np.corrcoef(joined[RANK].to_numpy(), joined[f"{RANK}_right"].to_numpy())[0, 1]
    assert rho > 0.9


def test_bad_settings_are_params_errors():
    with pytest.raises(ParamsError):
        detect_outliers(accounts(), settings={"models": ["lof"]})
    with pytest.raises(ParamsError):
        detect_outliers(accounts(), settings={"combine": "median"})
    with pytest.raises(ParamsError):
        detect_outliers(accounts(), settings={"top_k": -1})
    assert set(DEFAULTS["models"]) == {"ecod", "hbos", "iforest"}
    every = detect_outliers(accounts(), settings={"models": ["ecod", "copod", "hbos", "iforest"]})
    assert "copod_score" in every.scores.columns


def test_degenerate_inputs():
    empty = accounts(n=0, planted=()).head(0)
    res = detect_outliers(empty)
    assert res.scores.height == 0 and res.evidence.height == 0
    flat = pl.DataFrame({S.ACCOUNT_ID: ["A", "B", "C"], "x": [1.0, 1.0, 1.0]})
    res = detect_outliers(flat)
    assert res.scores.height == 3 and res.evidence.height == 0


def test_accounts_are_compared_with_their_peer_group():
    rng = np.random.default_rng(3)
    persons, businesses = 400, 300
    frame = pl.DataFrame(
        {
            S.ACCOUNT_ID: [f"P{i:03d}" for i in range(persons)]
            + [f"B{i:03d}" for i in range(businesses)]
            + ["ODD", "EXT"],
            # businesses take many payments; one person takes as many as a business
            "in_count": np.r_[
                rng.poisson(10, persons), rng.poisson(1000, businesses), [1000], [3]
            ].astype(float),
            "flow_through_24h": np.r_[rng.beta(1, 8, persons + businesses), [0.1, 0.1]],
            PEER_GROUP: [1.0] * persons + [2.0] * businesses + [1.0, 0.0],
        }
    )
    res = detect_outliers(frame, settings={"top_k": 10})
    assert PEER_GROUP not in res.features_used
    assert "ODD" in res.evidence[S.EV_ACCOUNT].to_list()
    reason = res.evidence.filter(pl.col(S.EV_ACCOUNT) == "ODD")[S.EV_REASON][0]
    assert "of person accounts" in reason
    assert res.scores.filter(pl.col(S.ACCOUNT_ID) == "EXT").height == 1  # scored against all
    # compared with everyone instead, the lone busy person is just another business
    flat = detect_outliers(frame, settings={"top_k": 10, "peer_group_feature": ""})
    assert "ODD" not in flat.evidence[S.EV_ACCOUNT].to_list()


def test_models_are_pyods_and_scoring_in_batches_changes_nothing_for_row_wise_models(
    monkeypatch,
):
    """HBOS and IForest are pyod detectors fitted on the sample; they score each
    row on its own, so batching the members cannot change their scores."""
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest

    import moneytrail.outliers as outliers

    rng = np.random.default_rng(5)
    n = 1500
    X = np.column_stack([rng.lognormal(size=n), rng.integers(0, 4, n).astype(float)])
    every = np.arange(n)
    sample = np.sort(rng.choice(n, 400, replace=False))
    cfg = {**DEFAULTS, "iforest_trees": 50}
    fitted, scored = outliers._run_model("iforest", X, sample, every, every, cfg)
    direct = IForest(n_estimators=50, random_state=cfg["seed"]).fit(X[sample])
    assert np.allclose(scored, direct.decision_function(X))
    assert np.allclose(fitted, direct.decision_scores_)
    monkeypatch.setattr(outliers, "_SCORE_BATCH", 128)
    _, batched = outliers._run_model("hbos", X, sample, every, every, cfg)
    whole = HBOS(n_bins=int(cfg["hbos_bins"])).fit(X[sample]).decision_function(X)
    assert np.allclose(batched, whole)


@pytest.mark.parametrize("model", ["ecod", "copod"])
def test_ecod_and_copod_fitted_one_feature_at_a_time_give_pyods_scores(model):
    """ECOD and COPOD add per-feature tail scores: fitting them feature by feature
    on the pool gives the scores of pyod's model fitted on the whole matrix."""
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD

    import moneytrail.outliers as outliers

    rng = np.random.default_rng(11)
    n = 2000
    X = np.column_stack(
        [rng.lognormal(size=n), rng.integers(0, 4, n).astype(float), -rng.exponential(size=n)]
    )
    every = np.arange(n)
    some = np.sort(rng.choice(n, 300, replace=False))
    sample = np.sort(rng.choice(n, 500, replace=False))  # not used by these models
    whole = (ECOD if model == "ecod" else COPOD)().fit(X).decision_scores_
    fitted, scored = outliers._run_model(model, X, sample, every, every, DEFAULTS)
    assert np.allclose(fitted, whole, rtol=0, atol=1e-9)
    assert np.allclose(scored, whole, rtol=0, atol=1e-9)
    # members of a small peer group scored against everyone: their rows of the pool's fit
    fitted, scored = outliers._run_model(model, X, sample, some, every, DEFAULTS)
    assert np.allclose(fitted, whole, rtol=0, atol=1e-9)
    assert np.allclose(scored, whole[some], rtol=0, atol=1e-9)


def test_reason_tail_scores_are_pyod_ecods_per_feature_scores():
    """The reasons' per-feature strengths are ECOD's ``O`` for the chosen rows
    scored after a fit on the sample."""
    from pyod.models.ecod import ECOD

    from moneytrail.outliers import _tail_scores

    rng = np.random.default_rng(2)
    train = rng.lognormal(size=(3000, 4))
    chosen = rng.lognormal(size=(50, 4)) * np.array([1.0, 3.0, 0.2, 1.0])
    det = ECOD().fit(train)
    det.decision_function(chosen)
    assert np.array_equal(_tail_scores(train, chosen), np.asarray(det.O)[-50:])


def test_last_bit_differences_in_features_do_not_reorder_accounts():
    # the same features, one value of a share many accounts have in common moved
    # by one bit (as sums taken in another order differ): the same scores and ranks
    frame = accounts(n=300).with_columns(pl.col("flow_through_24h").round(1))
    values = frame.get_column("flow_through_24h").to_numpy().copy()
    tied = int(np.flatnonzero(values == np.median(values))[0])
    values[tied] = np.nextafter(values[tied], np.inf)
    nudged = frame.with_columns(pl.Series("flow_through_24h", values))
    a, b = detect_outliers(frame).scores, detect_outliers(nudged).scores
    assert a.get_column(RANK).to_list() == b.get_column(RANK).to_list()
    assert a.get_column(SCORE).to_list() == b.get_column(SCORE).to_list()
