"""Statistical outliers: a pyod ensemble over the account features.

Deterministic, parameter-light pyod detectors (ECOD, HBOS and a seeded
IsolationForest by default; COPOD on request) score every account; each
model's scores are standardised on its fitting set and combined (average by
default, ``max`` by setting).
The review volume is a top-k budget, never pyod's contamination guess: only
the ``top_k`` most outlying accounts become Evidence.

Each Evidence row names the features that pushed the account's score most,
with their values and percentiles. The per-feature strength is ECOD's tail
score, ``-log`` of the empirical tail probability on the side ECOD reads
for that feature.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from moneytrail import schema as S
from moneytrail.errors import ParamsError
from moneytrail.evidence import SCORE_DECIMALS, empty_evidence, evidence_frame
from moneytrail.features import PEER_GROUP, PEER_GROUP_NAMES

EXTERNAL_GROUP = 0.0  # PEER_GROUP_NAMES: outside the accounts table

DEFAULTS: dict = {
    # detectors of the ensemble: any of ecod, copod, hbos, iforest. COPOD is left
    # out by default: it reads the same per-feature tails as ECOD, and without it
    # outlier-only AP was a little higher on AMLSim small and two generated sets
    # (top-k overlap with it 0.97 at 500 K accounts) for 3.7 CPU s less
    "models": ["ecod", "hbos", "iforest"],
    # how standardised model scores combine: average or max
    "combine": "average",
    # review budget: top_k accounts become evidence; when null, budget_share of
    # the accounts, at least min_top_k
    "top_k": None,
    "budget_share": 0.01,
    "min_top_k": 20,
    # rank bands of the budget: the first severity_high share is "high",
    # up to severity_medium "medium", the rest "low"
    "severity_high": 0.1,
    "severity_medium": 0.4,
    "seed": 42,
    # above this many accounts, HBOS and IForest are fitted on a seeded sample and
    # score all; ECOD and COPOD always read every account (cheaper than a sample)
    "fit_sample": 50_000,
    # 100 trees move the top-k less than another seed does (overlap with 200
    # trees 0.98, between two seeds 0.97 at 500 K accounts); half the scoring time
    "iforest_trees": 100,
    "hbos_bins": 20,
    # features the models must not see (names from features.FeatureResult)
    "exclude_features": [],
    # compare each account with its peers (features.PEER_GROUP: person, business,
    # outside the bank); empty to compare everyone with everyone
    "peer_group_feature": PEER_GROUP,
    # peer groups smaller than this are compared with everyone
    "min_peer_group": 200,
    # how many features each reason names
    "reason_features": 3,
}

MODELS = ("ecod", "copod", "hbos", "iforest")
CODE = "outlier-ensemble"
SCORE = "outlier_score"
RANK = "outlier_rank"


@dataclass
class OutlierResult:
    scores: pl.DataFrame
    evidence: pl.DataFrame
    features_used: list[str]
    top_k: int


def outlier_tie_break(result: OutlierResult) -> pl.DataFrame:
    """Account id and combined outlier score: the order of accounts of equal risk.

    Rounded as evidence scores are (features summed in parallel differ in their
    last bits from run to run), so that the same export ranks the same way.
    """
    return result.scores.select(S.ACCOUNT_ID, pl.col(SCORE).round(SCORE_DECIMALS))


def detect_outliers(
    features: pl.DataFrame,
    settings: dict | None = None,
    descriptions: dict[str, str] | None = None,
) -> OutlierResult:
    """Score every account of ``features`` and turn the top-k budget into Evidence.

    ``features`` is ``FeatureResult.frame``: ``S.ACCOUNT_ID`` plus numeric columns.
    """
    cfg = check_settings({**DEFAULTS, **(settings or {})})
    descriptions = descriptions or {}
    ids = features.get_column(S.ACCOUNT_ID)
    n = features.height
    model_cols = [f"{m}_score" for m in cfg["models"]]
    if n == 0:
        empty = pl.DataFrame(
            schema={S.ACCOUNT_ID: pl.String, SCORE: pl.Float64, RANK: pl.Int64}
            | {c: pl.Float64 for c in model_cols}
        )
        return OutlierResult(empty, empty_evidence(), [], 0)

    raw, names = _matrix(features, [*cfg["exclude_features"], cfg["peer_group_feature"]])
    if not names or n < 3:
        # Nothing varies (or too few accounts to compare): every account is ordinary.
        scores = pl.DataFrame(
            {S.ACCOUNT_ID: ids, SCORE: np.zeros(n), RANK: np.arange(1, n + 1)}
            | {c: np.zeros(n) for c in model_cols}
        )
        return OutlierResult(scores, empty_evidence(), names, 0)

    X = _scale(raw, names)
    group_ids, group_names = _peer_groups(features, cfg)

    per_model = {f"{m}_score": np.zeros(n) for m in cfg["models"]}
    fit_sets: list[tuple[np.ndarray, np.ndarray]] = []  # (members, their fitting sample)
    for members, pool in group_ids:
        fit_idx = _sample(pool, cfg)
        fit_sets.append((members, fit_idx))
        for model in cfg["models"]:
            train, scored = _run_model(model, X, fit_idx, members, pool, cfg)
            # standardise on the fitting set so models (and peer groups) weigh alike
            mu, sd = float(np.mean(train)), float(np.std(train))
            per_model[f"{model}_score"][members] = (scored - mu) / (sd if sd > 0 else 1.0)
    stacked = np.column_stack(list(per_model.values()))
    combined = stacked.max(axis=1) if cfg["combine"] == "max" else stacked.mean(axis=1)

    # Rank: highest combined score first; ties broken by account id for determinism.
    order = np.lexsort((ids.to_numpy(), -combined))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    scores = pl.DataFrame({S.ACCOUNT_ID: ids, SCORE: combined, RANK: rank} | per_model).sort(RANK)

    top_k = _budget(cfg, n)
    chosen = order[:top_k]
    evidence = _evidence(
        features, raw, X, names, fit_sets, group_names, chosen, rank, n, top_k, cfg, descriptions
    )
    return OutlierResult(scores, evidence, names, top_k)


def _sample(members: np.ndarray, cfg: dict) -> np.ndarray:
    """The rows a model is fitted on: all members, or a seeded sample of them."""
    if members.size <= cfg["fit_sample"]:
        return members
    rng = np.random.default_rng(cfg["seed"])
    return np.sort(rng.choice(members, size=cfg["fit_sample"], replace=False))


def _peer_groups(features: pl.DataFrame, cfg: dict):
    """(members, rows to fit on) of each peer group, and each row's group in words.

    Accounts are compared with their peers (persons, businesses, accounts
    outside the bank): what is ordinary for a business is odd for a person.
    Groups smaller than ``min_peer_group`` are compared with everyone.
    """
    n = features.height
    column = cfg["peer_group_feature"]
    everyone = [(np.arange(n), np.arange(n))], ["accounts"] * n
    if not column or column not in features.columns:
        return everyone
    codes = features.get_column(column).cast(pl.Float64).fill_null(-1.0).to_numpy()
    values, counts = np.unique(codes, return_counts=True)
    # Accounts outside the bank are seen only through their dealings with it;
    # they are compared with everyone, not made a peer group of their own.
    big = [
        v
        for v, c in zip(values, counts, strict=True)
        if c >= cfg["min_peer_group"] and v != EXTERNAL_GROUP
    ]
    if len(big) <= 1:
        return everyone
    groups = [(m, m) for m in (np.flatnonzero(codes == v) for v in big)]
    rest = np.flatnonzero(~np.isin(codes, big))
    if rest.size:
        # too few to form their own peer group: compared with everyone
        groups.append((rest, np.arange(n)))
    label = {float(v): f"{PEER_GROUP_NAMES.get(int(v), 'accounts')} accounts" for v in big}
    words = [label.get(float(c), "accounts") for c in codes]
    return groups, words


def check_settings(cfg: dict) -> dict:
    """``cfg`` if its models and combination are known (shapes: moneytrail.params)."""
    unknown = [m for m in cfg["models"] if m not in MODELS]
    if unknown or not cfg["models"]:
        raise ParamsError(
            f"unknown outlier model(s) {unknown}" if unknown else "no outlier models chosen",
            hint=f"outliers.models is a list of: {', '.join(MODELS)}",
        )
    if cfg["combine"] not in ("average", "max"):
        raise ParamsError(f"outliers.combine is {cfg['combine']!r}", hint="use 'average' or 'max'")
    if cfg["top_k"] is not None and (not isinstance(cfg["top_k"], int) or cfg["top_k"] < 0):
        raise ParamsError("outliers.top_k must be a whole number ≥ 0 or null")
    if not 0 <= float(cfg["budget_share"]) <= 1:
        raise ParamsError("outliers.budget_share must lie between 0 and 1")
    if int(cfg["fit_sample"]) < 100:
        raise ParamsError("outliers.fit_sample must be at least 100")
    return cfg


def _budget(cfg: dict, n: int) -> int:
    if cfg["top_k"] is not None:
        return min(int(cfg["top_k"]), n)
    return min(n, max(int(cfg["min_top_k"]), math.ceil(float(cfg["budget_share"]) * n)))


def _matrix(features: pl.DataFrame, exclude) -> tuple[np.ndarray, list[str]]:
    """Numeric feature columns that vary, as a float matrix (nulls kept as NaN).

    Column-major: scaling and the per-feature models read one feature at a time.
    """
    numeric = [
        name
        for name, dtype in features.schema.items()
        if name != S.ACCOUNT_ID and name not in exclude and dtype.is_numeric()
    ]
    if not numeric:
        return np.empty((features.height, 0)), []
    # nulls become NaN; infinities are made NaN below. Features summed in
    # parallel differ in their last bits from run to run, and ECOD and HBOS
    # read ranks and bins, where one bit can reorder two accounts: 12
    # significant digits keep what the data says and drop that noise.
    raw = features.select(
        pl.col(numeric).cast(pl.Float64).round_sig_figs(_SIGNIFICANT_DIGITS)
    ).to_numpy(order="fortran", writable=True)
    raw[~np.isfinite(raw)] = np.nan
    # a column varies when its finite values are not all equal
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        varies = np.nanmin(raw, axis=0) < np.nanmax(raw, axis=0)
    if not varies.any():
        return np.empty((features.height, 0)), []
    names = [name for name, keep in zip(numeric, varies, strict=True) if keep]
    return (raw if varies.all() else np.asfortranarray(raw[:, varies])), names


def _scale(raw: np.ndarray, names: list[str]) -> np.ndarray:
    """log1p on heavy-tailed non-negative columns, then median/IQR scaling; NaN → median."""
    X = np.empty_like(raw, order="F")
    for j in range(raw.shape[1]):
        col = raw[:, j]
        finite = col[np.isfinite(col)]
        # counts, sums and durations: non-negative and reaching beyond shares' 0..1
        if finite.size and finite.min() >= 0 and finite.max() > 1:
            col = np.log1p(col)
            finite = np.log1p(finite)
        if finite.size:
            # one partition of the column for all three quartiles
            q75, med, q25 = np.percentile(finite, [75, 50, 25])
            spread = q75 - q25
            if not spread > 0:
                spread = np.nanstd(col)
        else:
            med, spread = np.nan, np.nan
        if not spread > 0:
            spread = 1.0
        col = (col - med) / spread
        col[~np.isfinite(col)] = 0.0
        X[:, j] = col
    return X


# HBOS and IForest score each row on its own: members are scored in batches so
# their per-row, per-feature work arrays stay small.
_SCORE_BATCH = 100_000
_SIGNIFICANT_DIGITS = 12

# ECOD and COPOD read each feature's empirical distribution on its own and add
# the per-feature tail scores, so fitting them one feature at a time gives
# pyod's scores (to rounding) while holding a single column of work arrays.
_PER_FEATURE = ("ecod", "copod")


def _detector(model: str, cfg: dict):
    """A pyod detector for one model name, seeded where it draws at random."""
    if model == "ecod":
        from pyod.models.ecod import ECOD

        return ECOD()
    if model == "copod":
        from pyod.models.copod import COPOD

        return COPOD()
    if model == "hbos":
        from pyod.models import hbos

        _cache_compiled(hbos)
        return hbos.HBOS(n_bins=int(cfg["hbos_bins"]))
    from pyod.models.iforest import IForest

    return IForest(n_estimators=int(cfg["iforest_trees"]), random_state=int(cfg["seed"]))


def _cache_compiled(hbos_module) -> None:
    """Keep pyod HBOS's numba-compiled scorer on disk between runs.

    pyod compiles it without numba's cache, costing about 2.5 CPU s in every
    new process; numba's own cache brings that to about 0.2 s. Where no cache
    folder can be written the function is simply compiled as before.
    """
    scorer = getattr(hbos_module, "_calculate_outlier_scores", None)
    if scorer is None or not hasattr(scorer, "enable_caching") or scorer.signatures:
        return
    # numba raises RuntimeError when it finds no writable cache folder
    with contextlib.suppress(RuntimeError, OSError):
        scorer.enable_caching()


def _run_model(model, X, fit_idx, members, pool, cfg):
    """Fit one pyod model; return (scores of its fitting set, scores of members).

    ECOD and COPOD are fitted on the whole pool, one feature at a time: their
    fit is a sort of each feature, while scoring new rows re-sorts the fitting
    set together with every batch, which costs more than fitting on everyone
    (at 500 K accounts: 4.5 CPU s and 0.8 GB peak against 10.7 s and 1.2 GB
    for a 50 K sample plus batches). HBOS and IForest are fitted on the seeded
    sample ``fit_idx``; members outside it are scored in batches.
    """
    if model in _PER_FEATURE:
        everyone = pool.size == X.shape[0]

        def one_feature(j: int) -> np.ndarray:
            det = _detector(model, cfg)
            # X is column-major: one feature of everyone is a contiguous view
            det.fit(X[:, j : j + 1] if everyone else X[pool, j : j + 1])
            return det.decision_scores_

        # numpy sorts without the GIL, so two threads fit two features at once
        # (ECOD at 500 K accounts: 10.1 -> 7.2 s wall on a busy 2-core box);
        # the sum runs in feature order, so the scores are the same bits
        train = np.zeros(pool.size)
        with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as threads:
            for scores in threads.map(one_feature, range(X.shape[1])):
                train += scores
        return train, train[np.searchsorted(pool, members)]
    det = _detector(model, cfg)
    det.fit(X[fit_idx])
    if np.array_equal(fit_idx, members):
        return det.decision_scores_, det.decision_scores_
    scored = np.empty(members.size)
    for start in range(0, members.size, _SCORE_BATCH):
        batch = members[start : start + _SCORE_BATCH]
        scored[start : start + batch.size] = det.decision_function(X[batch])
    return det.decision_scores_, scored


def _tail_scores(train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Per-feature ECOD tail scores of X against ``train`` (for the reasons).

    pyod's ECOD keeps the per-dimension outlier scores of its last call in
    ``O``. Scoring X after fitting on ``train`` ranks train and X together;
    fitting on both at once gives the same ``O`` without ranking ``train``
    on its own first.
    """
    from pyod.models.ecod import ECOD

    det = ECOD()
    det.fit(np.concatenate([train, X]))
    return np.asarray(det.O)[-X.shape[0] :]


def _evidence(
    features, raw, X, names, fit_sets, group_names, chosen, rank, n, top_k, cfg, descriptions
):
    if top_k == 0:
        return empty_evidence()
    k_reason = max(1, int(cfg["reason_features"]))
    ids = features.get_column(S.ACCOUNT_ID).to_list()
    # each chosen account is explained against the peers it was scored with
    where_fit = {}
    for g, (members, _) in enumerate(fit_sets):
        for i in np.intersect1d(members, chosen):
            where_fit[int(i)] = g
    tails = np.empty((len(chosen), X.shape[1]))
    percent_refs = {}
    for g, (_, fit_idx) in enumerate(fit_sets):
        rows = [p for p, i in enumerate(chosen) if where_fit[int(i)] == g]
        if not rows:
            continue
        tails[rows] = _tail_scores(X[fit_idx], X[chosen[rows]])
        ref = raw[fit_idx]
        percent_refs[g] = [np.sort(ref[np.isfinite(ref[:, j]), j]) for j in range(ref.shape[1])]
    out = []
    for pos, i in enumerate(chosen):
        r = int(rank[i])
        g = where_fit[int(i)]
        peers = group_names[i]
        parts = []
        for j in np.argsort(-tails[pos], kind="stable")[:k_reason]:
            value = raw[i, j]
            if not np.isfinite(value):
                continue
            ref = percent_refs[g][j]
            size = max(ref.size, 1)
            below = np.searchsorted(ref, value, side="left") / size
            above = 1.0 - np.searchsorted(ref, value, side="right") / size
            where = (
                f"higher than {_pct(below)} of {peers}"
                if below >= above
                else f"lower than {_pct(above)} of {peers}"
            )
            label = descriptions.get(names[j], names[j])
            parts.append(f"{names[j]} = {_fmt(value)} ({label}; {where})")
        share = (r - 1) / top_k
        if share < cfg["severity_high"]:
            severity = "high"
        elif share < cfg["severity_medium"]:
            severity = "medium"
        else:
            severity = "low"
        out.append(
            {
                S.EV_ACCOUNT: ids[i],
                S.EV_DETECTOR: "outlier",
                S.EV_CODE: CODE,
                S.EV_SCORE: 1.0 - (r - 1) / top_k,
                S.EV_SEVERITY: severity,
                S.EV_REASON: f"unusual account profile, outlier rank {r:,} of {n:,}: "
                + "; ".join(parts),
            }
        )
    return evidence_frame(pl.DataFrame(out))


def _pct(share: float) -> str:
    """A share as a percentage that never rounds up to 100 % or down to 0 %."""
    text = f"{share:.1%}"
    if text == "100.0%" and share < 1:
        return "99.9%"
    if text == "0.0%" and share > 0:
        return "0.1%"
    return text


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"
