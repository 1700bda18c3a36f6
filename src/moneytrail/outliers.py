"""Statistical outliers: a pyod ensemble over the account features.

Deterministic, parameter-light detectors (ECOD, COPOD, HBOS and a seeded
IsolationForest) score every account; each model's scores are standardised
on the fitting set and combined (average by default, ``max`` by setting).
The review volume is a top-k budget, never pyod's contamination guess: only
the ``top_k`` most outlying accounts become Evidence.

Each Evidence row names the features that pushed the account's score most,
with their values and percentiles. The per-feature strength is ECOD's tail
score, ``-log`` of the empirical tail probability on the side ECOD reads
for that feature.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from moneytrail import schema as S
from moneytrail.errors import ParamsError
from moneytrail.evidence import empty_evidence, evidence_frame
from moneytrail.features import PEER_GROUP, PEER_GROUP_NAMES

EXTERNAL_GROUP = 0.0  # PEER_GROUP_NAMES: outside the accounts table

DEFAULTS: dict = {
    # detectors of the ensemble: any of ecod, copod, hbos, iforest
    "models": ["ecod", "copod", "hbos", "iforest"],
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
    # above this many accounts, models are fitted on a seeded sample and score all
    "fit_sample": 50_000,
    "iforest_trees": 200,
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


def detect_outliers(
    features: pl.DataFrame,
    settings: dict | None = None,
    descriptions: dict[str, str] | None = None,
) -> OutlierResult:
    """Score every account of ``features`` and turn the top-k budget into Evidence.

    ``features`` is ``FeatureResult.frame``: ``S.ACCOUNT_ID`` plus numeric columns.
    """
    cfg = {**DEFAULTS, **(settings or {})}
    _check_settings(cfg)
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
        shared: dict = {}  # ECOD and COPOD read the same tail probabilities
        for model in cfg["models"]:
            train, scored = _run_model(model, X, fit_idx, members, cfg, shared)
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


def _check_settings(cfg: dict) -> None:
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


def _budget(cfg: dict, n: int) -> int:
    if cfg["top_k"] is not None:
        return min(int(cfg["top_k"]), n)
    return min(n, max(int(cfg["min_top_k"]), math.ceil(float(cfg["budget_share"]) * n)))


def _matrix(features: pl.DataFrame, exclude) -> tuple[np.ndarray, list[str]]:
    """Numeric feature columns that vary, as a float matrix (nulls kept as NaN)."""
    numeric = [
        name
        for name, dtype in features.schema.items()
        if name != S.ACCOUNT_ID and name not in exclude and dtype.is_numeric()
    ]
    if not numeric:
        return np.empty((features.height, 0)), []
    raw = (
        features.select(pl.col(numeric).cast(pl.Float64))
        .with_columns(pl.all().fill_nan(None))
        .to_numpy()
        .astype(np.float64)
    )
    raw[~np.isfinite(raw)] = np.nan
    # a column varies when its finite values are not all equal
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        varies = np.nanmin(raw, axis=0) < np.nanmax(raw, axis=0)
    if not varies.any():
        return np.empty((features.height, 0)), []
    names = [name for name, keep in zip(numeric, varies, strict=True) if keep]
    return np.ascontiguousarray(raw[:, varies]), names


def _scale(raw: np.ndarray, names: list[str]) -> np.ndarray:
    """log1p on heavy-tailed non-negative columns, then median/IQR scaling; NaN → median."""
    X = np.empty_like(raw)
    for j in range(raw.shape[1]):
        col = raw[:, j]
        finite = col[np.isfinite(col)]
        # counts, sums and durations: non-negative and reaching beyond shares' 0..1
        if finite.size and finite.min() >= 0 and finite.max() > 1:
            col = np.log1p(col)
            finite = np.log1p(finite)
        if finite.size:
            # the same arithmetic as nanmedian / nanpercentile / nanstd (which
            # drop NaNs per call): scaled values, and so ECDF ties, stay bit-equal
            med = np.median(finite)
            q75, q25 = np.percentile(finite, [75, 25])
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


def _run_model(model, X, fit_idx, members, cfg, shared):
    """Fit one model on X[fit_idx]; return (scores of the fit set, scores of members).

    pyod is not imported: its import alone costs about 1.5 s per process.
    ECOD and COPOD are computed here from the same tail probabilities (equal
    to pyod's scores to 1e-14), IsolationForest is scikit-learn's (pyod's
    IForest wraps it; its scores differ by a constant that standardisation removes).
    Every model scores a row on its own, so when the fit set is among the
    members its scores are taken from the members' instead of computed twice.
    """
    train = X[fit_idx]
    inside = _positions(members, fit_idx)
    if model == "hbos":
        # pyod's HBOS compiles with numba in every new process (seconds of CPU
        # per scan); _hbos computes the same static-bin scores with numpy.
        bins = int(cfg["hbos_bins"])
        scored = _hbos(train, X[members], bins)
        return (scored[inside] if inside is not None else _hbos(train, train, bins)), scored
    if model in ("ecod", "copod"):
        # pyod's ECOD/COPOD re-rank the fit set together with each new batch; the
        # same scores against our own sorted fit set need far less memory.
        if "scored" not in shared:
            shared["scored"] = _ecdf_model_scores(train, X[members])
            if inside is not None:
                shared["fitted"] = {m: v[inside] for m, v in shared["scored"].items()}
            else:
                shared["fitted"] = _ecdf_model_scores(train, train)
        return shared["fitted"][model], shared["scored"][model]
    from sklearn.ensemble import IsolationForest

    det = IsolationForest(n_estimators=int(cfg["iforest_trees"]), random_state=int(cfg["seed"]))
    det.fit(train)
    # score_samples is high for normal rows: negate so outliers score high
    scored = np.empty(members.size)
    for start in range(0, members.size, 100_000):
        stop = start + 100_000
        scored[start:stop] = -det.score_samples(X[members[start:stop]])
    return (scored[inside] if inside is not None else -det.score_samples(train)), scored


def _positions(members: np.ndarray, fit_idx: np.ndarray) -> np.ndarray | None:
    """Where each fit row sits among the (sorted) members, or None if one is not there."""
    if members.size == 0:
        return None
    inside = np.minimum(np.searchsorted(members, fit_idx), members.size - 1)
    return inside if np.array_equal(members[inside], fit_idx) else None


def _hbos(train: np.ndarray, X: np.ndarray, n_bins: int, alpha=0.1, tol=0.5) -> np.ndarray:
    """Histogram-based outlier scores, as pyod's ``HBOS(n_bins, alpha, tol)``.

    Per feature, ``-log2(density + alpha)`` of the equal-width bin of ``train``
    the value falls in; values beyond the range by more than ``tol`` bin widths
    get the lowest density of that feature. Scores are summed over features.
    """
    total = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        hist, edges = np.histogram(train[:, j], bins=n_bins, density=True)
        log_density = np.log2(hist + alpha)
        x = X[:, j]
        idx = np.digitize(x, edges, right=True)
        width = edges[1] - edges[0]
        score = log_density[np.clip(idx - 1, 0, n_bins - 1)]
        far = ((idx == 0) & (edges[0] - x > width * tol)) | (
            (idx == n_bins + 1) & (x - edges[-1] > width * tol)
        )
        score = np.where(far, log_density.min(), score)
        total -= score
    return total


def _skew_sign(train: np.ndarray) -> np.ndarray:
    centred = train - train.mean(axis=0)
    m2 = (centred**2).mean(axis=0)
    m3 = (centred**3).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(m2 > 0, m3 / np.power(m2, 1.5), 0.0)
    return np.sign(skew)


def _tails(train: np.ndarray, X: np.ndarray):
    """Per feature: left and right tail scores of X against the ECDF of ``train``,
    and the skew-chosen tail, as pyod's ECOD and COPOD define them.

    Left ``-log F(x)``, right ``-log (1 - F(x-))``; the skewed tail is the right
    one for right-skewed features, the left one for left-skewed, their sum when
    the skewness is 0. Yields (feature index, left, right, skewed).
    """
    m = train.shape[0]
    sign = _skew_sign(train)
    floor = 1.0 / (m + 1)  # values beyond every training value
    # -log of the clipped share, for every possible count 0..m: a look-up
    # instead of a logarithm per value
    neg_log = -np.log(np.clip(np.arange(m + 1) / m, floor, 1.0))
    for j in range(X.shape[1]):
        ref = np.sort(train[:, j])
        x = X[:, j]
        # one search among the distinct training values gives both counts:
        # training values below x, and those at or below it
        starts = np.flatnonzero(np.r_[True, ref[1:] != ref[:-1]])
        distinct = ref[starts]
        pos = np.searchsorted(distinct, x, side="left")
        bounds = np.r_[starts, m]
        below = bounds[pos]
        hit = pos < distinct.size
        hit[hit] = distinct[pos[hit]] == x[hit]
        at_or_below = np.where(hit, bounds[np.minimum(pos + 1, distinct.size)], below)
        u_l = neg_log[at_or_below]
        u_r = neg_log[m - below]
        skewed = u_l if sign[j] < 0 else u_r if sign[j] > 0 else u_l + u_r
        yield j, u_l, u_r, skewed


def _ecdf_model_scores(train: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    """ECOD and COPOD scores of X against ``train``, from one pass over the features."""
    ecod = np.zeros(X.shape[0])
    copod = np.zeros(X.shape[0])
    for _, u_l, u_r, skewed in _tails(train, X):
        ecod += np.maximum(np.maximum(u_l, u_r), skewed)
        copod += np.maximum(skewed, (u_l + u_r) / 2)
    return {"ecod": ecod, "copod": copod}


def _tail_scores(train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Per-feature ECOD tail scores of X against ``train`` (for the reasons)."""
    out = np.empty(X.shape, dtype=np.float64)
    for j, u_l, u_r, skewed in _tails(train, X):
        out[:, j] = np.maximum(np.maximum(u_l, u_r), skewed)
    return out


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
