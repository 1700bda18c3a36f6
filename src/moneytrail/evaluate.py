"""Detection quality against ground truth: how well a scan ranks known laundering.

Everything is at account level. A scan's ``scores.csv`` ranks every scanned
account; a label file (see :mod:`moneytrail.labels`) says which accounts are
laundering, in which case and typology, and which legitimate accounts look
like laundering. Labelled accounts the scan did not score count as unranked:
below every scored account. Average precision and ROC-AUC are taken on the
order the scan presents (its ranks), which is the order an analyst reviews:
accounts of equal risk count in the order the scan put them.

Labels are for measuring only; nothing here feeds back into detection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.labels import (
    LOOKALIKE_GROUP,
    NON_CORE_ROLES,
    Labels,
    read_labels,
    require_parsed,
)

__all__ = [
    "DEFAULT_KS",
    "Evaluation",
    "Labels",
    "evaluate",
    "read_labels",
    "read_scores",
    "read_features",
]

DEFAULT_KS = (50, 100, 500)
# How many codes the per-typology diagnostics name for hits and for misses.
TOP_CODES = 5
# Frame-local helper columns (not part of any file).
_POSITIVE = "_positive"
_LOOKALIKE = "_lookalike"
_SCORE = "_score"
_RANK = "_rank"
_CODE_LIST = "_codes"
_UNRANKED_SCORE = -1.0  # below every risk score (0..1): unranked is worst
# Column of ``read_case_of``: the scan case's place in the order cases.json lists them.
CASE_POSITION = "case_position"
# A planted case counts as reached through the case list with fewer than this
# many scan cases ahead of it that hold no labelled account.
CASE_LIST_BUDGET = 10


@dataclass
class Evaluation:
    """The numbers of one evaluation; :meth:`as_dict` is what ``--json`` prints."""

    labels_kind: str
    labels_source: str
    n_accounts: int  # accounts the scan ranked
    n_positives: int
    n_positives_unranked: int
    n_lookalikes: int
    average_precision: float | None
    roc_auc: float | None
    k_2x: int
    at_k: list[dict[str, Any]]  # one per k, ascending, k_2x included
    typologies: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    case_summary: dict[str, Any]
    codes: list[dict[str, Any]]
    diagnostics: dict[str, Any]
    features: list[dict[str, Any]] = field(default_factory=list)

    def at(self, k: int) -> dict[str, Any]:
        """The row of :attr:`at_k` for one k."""
        for row in self.at_k:
            if row["k"] == k:
                return row
        raise KeyError(k)

    @property
    def at_2x(self) -> dict[str, Any]:
        return self.at(self.k_2x)

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": {"kind": self.labels_kind, "source": self.labels_source},
            "counts": {
                "accounts_ranked": self.n_accounts,
                "positives": self.n_positives,
                "positives_unranked": self.n_positives_unranked,
                "lookalikes": self.n_lookalikes,
            },
            "average_precision": self.average_precision,
            "roc_auc": self.roc_auc,
            "k_2x": self.k_2x,
            "at_k": self.at_k,
            "at_2x": self.at_2x,
            "typologies": self.typologies,
            "case_summary": self.case_summary,
            "cases": self.cases,
            "codes": self.codes,
            "diagnostics": self.diagnostics,
            "features": self.features,
        }


# --------------------------------------------------------------------------
# Reading a scan's output
# --------------------------------------------------------------------------
def read_scores(path: str | Path) -> pl.DataFrame:
    """A scan's ``scores.csv`` (or the OUTDIR holding it), ids kept as strings."""
    path = Path(path)
    if path.is_dir():
        path = path / S.SCORES_FILE
    if not path.exists():
        raise InputError(
            "no scores file",
            file=str(path),
            hint="run `moneytrail scan INPUT -o OUTDIR` first and pass its OUTDIR",
        )
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as exc:
        raise InputError(f"cannot parse scores file: {exc}", file=str(path)) from None
    missing = [c for c in (S.SC_ACCOUNT, S.SC_RISK) if c not in raw.columns]
    if missing:
        raise InputError(
            f"scores file lacks column(s) {', '.join(missing)}", file=str(path), column=missing[0]
        )
    casts = {S.SC_RISK: pl.Float64, S.SC_RANK: pl.Int64, S.SC_N_EVIDENCE: pl.Int64}
    for name, dtype in casts.items():
        if name not in raw.columns:
            continue
        cast = raw.get_column(name).cast(dtype, strict=False)
        require_parsed(raw.get_column(name), cast, path, "not a number")
        raw = raw.with_columns(cast)
    return raw


def read_features(path: str | Path) -> pl.DataFrame | None:
    """A scan's ``features.parquet`` (or the OUTDIR holding it); None when absent."""
    path = Path(path)
    if path.is_dir():
        path = path / S.FEATURES_FILE
    if not path.exists():
        return None
    return pl.read_parquet(path)


# --------------------------------------------------------------------------
# The evaluation
# --------------------------------------------------------------------------
def evaluate(
    scores: pl.DataFrame,
    labels: Labels,
    ks: Iterable[int] = DEFAULT_KS,
    features: pl.DataFrame | None = None,
    case_of: pl.DataFrame | None = None,
) -> Evaluation:
    """Compare a scan's ranking with ground truth.

    ``scores`` needs account_id and risk_score; rank (1 = riskiest) is taken from
    the frame when present, else from risk_score. ``codes`` (";"-joined) enables
    the per-code diagnostics; ``features`` (account_id + numeric columns) the
    per-feature separation table; ``case_of`` (account_id, case_id: the scan's
    alerts.csv) tells which planted cases have a core account in a scan case.
    """
    ks = sorted({int(k) for k in ks if int(k) > 0})
    table = _ranked_table(scores, labels)
    n_positives = int(table.get_column(_POSITIVE).sum())
    k_2x = max(1, 2 * n_positives)
    ks = sorted(set(ks) | {k_2x})
    y_true = table.get_column(_POSITIVE).to_numpy()
    y_score = table.get_column(_SCORE).to_numpy()
    ranked = table.filter(pl.col(_RANK).is_not_null())
    positives = labels.positives.join(
        table.select(S.LB_ACCOUNT, _RANK), on=S.LB_ACCOUNT, how="left"
    )
    return Evaluation(
        labels_kind=labels.kind,
        labels_source=labels.source,
        n_accounts=ranked.height,
        n_positives=n_positives,
        n_positives_unranked=int(table.filter(pl.col(_POSITIVE) & pl.col(_RANK).is_null()).height),
        n_lookalikes=int(table.get_column(_LOOKALIKE).sum()),
        average_precision=_ap(y_true, y_score),
        roc_auc=_auc(y_true, y_score),
        k_2x=k_2x,
        at_k=[_at_k(table, positives, k) for k in ks],
        typologies=_typology_table(table, positives, k_2x),
        cases=(cases := _case_table(positives, table, case_of)),
        case_summary=_case_summary(cases, ks),
        codes=_code_table(table, n_positives, k_2x),
        diagnostics=_diagnostics(table, positives, labels.lookalikes, k_2x),
        features=_feature_table(features, labels) if features is not None else [],
    )


def _ranked_table(scores: pl.DataFrame, labels: Labels) -> pl.DataFrame:
    """One row per account known to scores or labels: score, rank, flags, codes."""
    if S.SC_ACCOUNT not in scores.columns or S.SC_RISK not in scores.columns:
        raise InputError(f"scores need columns {S.SC_ACCOUNT!r} and {S.SC_RISK!r}")
    scored = scores.select(
        pl.col(S.SC_ACCOUNT).cast(pl.String).alias(S.LB_ACCOUNT),
        pl.col(S.SC_RISK).cast(pl.Float64).fill_null(0.0).alias(_SCORE),
        *([pl.col(S.SC_RANK).cast(pl.Int64)] if S.SC_RANK in scores.columns else []),
        (
            pl.col(S.SC_CODES).cast(pl.String).fill_null("")
            if S.SC_CODES in scores.columns
            else pl.lit("")
        )
        .str.split(";")
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
        .alias(_CODE_LIST),
    ).unique(S.LB_ACCOUNT, keep="first", maintain_order=True)
    if S.SC_RANK in scored.columns and scored.get_column(S.SC_RANK).null_count() == 0:
        scored = scored.rename({S.SC_RANK: _RANK})
    else:
        scored = scored.drop(S.SC_RANK, strict=False).with_columns(
            pl.col(_SCORE).rank("ordinal", descending=True).cast(pl.Int64).alias(_RANK)
        )
    known = [
        labels.positive_ids,
        labels.lookalikes.get_column(S.LB_ACCOUNT),
    ]
    if labels.universe is not None:
        known.append(labels.universe.cast(pl.String))
    extra = (
        pl.concat([s.rename(S.LB_ACCOUNT) for s in known])
        .unique()
        .to_frame()
        .filter(~pl.col(S.LB_ACCOUNT).is_in(scored.get_column(S.LB_ACCOUNT).implode()))
        .with_columns(
            pl.lit(_UNRANKED_SCORE).alias(_SCORE),
            pl.lit(None, pl.Int64).alias(_RANK),
            pl.lit([], pl.List(pl.String)).alias(_CODE_LIST),
        )
    )
    table = pl.concat([scored, extra.select(scored.columns)])
    last = (table.get_column(_RANK).max() or 0) + 1
    return table.with_columns(
        pl.col(S.LB_ACCOUNT).is_in(labels.positive_ids.implode()).alias(_POSITIVE),
        pl.col(S.LB_ACCOUNT)
        .is_in(labels.lookalikes.get_column(S.LB_ACCOUNT).implode())
        .alias(_LOOKALIKE),
        # the presented order as the score: rank 1 highest, unranked below all
        (-pl.col(_RANK).fill_null(last)).cast(pl.Float64).alias(_SCORE),
    ).sort(_RANK, nulls_last=True)


def _ap(y_true: np.ndarray, y_score: np.ndarray) -> float | None:
    if y_true.sum() == 0:
        return None
    return float(average_precision_score(y_true, y_score))


def _auc(y_true: np.ndarray, y_score: np.ndarray) -> float | None:
    if y_true.sum() in (0, len(y_true)):
        return None
    return float(roc_auc_score(y_true, y_score))


def _in_top(k: int) -> pl.Expr:
    return pl.col(_RANK).is_not_null() & (pl.col(_RANK) <= k)


def _at_k(table: pl.DataFrame, positives: pl.DataFrame, k: int) -> dict[str, Any]:
    n_positives = int(table.get_column(_POSITIVE).sum())
    top = table.filter(_in_top(k))
    hits = int(top.get_column(_POSITIVE).sum())
    by_typology = (
        positives.group_by(S.LB_TYPOLOGY)
        .agg(
            pl.col(S.LB_ACCOUNT).n_unique().alias("n"),
            pl.col(S.LB_ACCOUNT).filter(_in_top(k)).n_unique().alias("hits"),
        )
        .sort(S.LB_TYPOLOGY)
    )
    return {
        "k": k,
        "hits": hits,
        # At most the ranked accounts can be reviewed: a short list is not penalised.
        "precision": hits / max(1, min(k, table.filter(pl.col(_RANK).is_not_null()).height)),
        "recall": hits / n_positives if n_positives else None,
        "lookalikes_in_top_k": int(top.get_column(_LOOKALIKE).sum()),
        "recall_by_typology": {
            row[S.LB_TYPOLOGY]: row["hits"] / row["n"] for row in by_typology.iter_rows(named=True)
        },
    }


def _typology_table(table: pl.DataFrame, positives: pl.DataFrame, k_2x: int) -> list[dict]:
    """Per typology: AP and ROC-AUC against every negative, recall at k = 2x positives."""
    negatives = table.filter(~pl.col(_POSITIVE))
    rows = []
    for typology in sorted(positives.get_column(S.LB_TYPOLOGY).unique().to_list()):
        ids = positives.filter(pl.col(S.LB_TYPOLOGY) == typology).get_column(S.LB_ACCOUNT)
        mine = table.filter(pl.col(S.LB_ACCOUNT).is_in(ids.unique().implode()))
        both = pl.concat([mine, negatives])
        y_true = both.get_column(_POSITIVE).to_numpy()
        y_score = both.get_column(_SCORE).to_numpy()
        ranks = mine.get_column(_RANK)
        rows.append(
            {
                "typology": typology,
                "positives": mine.height,
                "average_precision": _ap(y_true, y_score),
                "roc_auc": _auc(y_true, y_score),
                "recall_at_2x": float(ranks.le(k_2x).fill_null(False).mean()),
                "median_rank": _median_rank(ranks),
            }
        )
    return rows


def _median_rank(ranks: pl.Series) -> float | None:
    """Median rank, unranked accounts counted as infinitely far down."""
    if ranks.len() == 0:
        return None
    values = ranks.cast(pl.Float64).fill_null(math.inf).sort()
    median = float(values.median())
    return None if math.isinf(median) else median


def _case_table(
    positives: pl.DataFrame, table: pl.DataFrame, case_of: pl.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Per labelled case: its best-ranked account, its best-ranked core account, and
    how many unlabelled accounts outrank that core account.

    The last is what an analyst pays to reach the case when working down the list:
    accounts of other planted cases met on the way are finds, not false alarms. With
    more cases than ranks in the budget, a "core account in the top 20" test cannot
    hold for every case; "fewer than 20 false alarms ahead" can.
    """
    cases = positives.filter(pl.col(S.LB_CASE).is_not_null())
    if cases.height == 0:
        return []
    core_in_case = pl.lit(None, pl.Boolean)  # unknown without the scan's alerts
    core = pl.col(S.LB_ROLE).is_null() | ~pl.col(S.LB_ROLE).is_in(list(NON_CORE_ROLES))
    by_rank = cases.sort(_RANK, S.LB_ACCOUNT, nulls_last=True)
    summary = (
        by_rank.group_by(S.LB_CASE, maintain_order=True)
        .agg(
            pl.col(S.LB_TYPOLOGY).first().alias("typology"),
            pl.col(S.LB_ACCOUNT).n_unique().alias("n_accounts"),
            pl.col(_RANK).min().alias("best_rank"),
            pl.col(S.LB_ACCOUNT).first().alias("best_account"),
            pl.col(_RANK).filter(core).min().alias("best_core_rank"),
            pl.col(S.LB_ACCOUNT).filter(core).first().alias("best_core_account"),
            pl.col(S.LB_ROLE).filter(core).first().alias("best_core_role"),
            pl.col(S.LB_ACCOUNT).filter(core).alias("_core"),
        )
        .sort("best_core_rank", "best_rank", S.LB_CASE, nulls_last=True)
    )
    if case_of is not None:
        in_scan_case = case_of.filter(pl.col(S.SC_CASE).is_not_null()).get_column(S.SC_ACCOUNT)
        core_in_case = pl.col("_core").list.eval(
            pl.element().is_in(in_scan_case.cast(pl.String).implode())
        ).list.any()
    summary = summary.with_columns(core_in_case.alias("core_in_scan_case"))
    summary = _case_list_columns(summary, positives, case_of).drop("_core")
    negative_ranks = (
        table.filter(~pl.col(_POSITIVE) & pl.col(_RANK).is_not_null())
        .get_column(_RANK)
        .sort()
    )
    summary = summary.with_columns(
        pl.when(pl.col("best_core_rank").is_not_null())
        .then(negative_ranks.search_sorted(summary.get_column("best_core_rank"), side="left"))
        .cast(pl.Int64)
        .alias("false_alarms_ahead")
    )
    return summary.rename({S.LB_CASE: "case_id"}).to_dicts()


def _case_list_columns(
    summary: pl.DataFrame, positives: pl.DataFrame, case_of: pl.DataFrame | None
) -> pl.DataFrame:
    """Add where an analyst working the scan's case list meets each planted case.

    ``scan_case_position``: the place, in the order cases.json lists them, of
    the first scan case holding one of the planted case's core accounts.
    ``false_cases_ahead``: the scan cases before it that hold no labelled
    account at all (a scan case holding another planted case's account is a
    find, not a false alarm). ``unlabelled_read``: the unlabelled accounts in
    the scan cases up to and including that one, the reading an analyst does
    to get there (the case view's counterpart of ``false_alarms_ahead``: a
    large case around one planted account costs every account in it). All
    null when the scan's case order is unknown.
    """
    if case_of is None or CASE_POSITION not in case_of.columns or (
        case_of.get_column(CASE_POSITION).null_count() == case_of.height
    ):
        return summary.with_columns(
            pl.lit(None, pl.Int64).alias("scan_case_position"),
            pl.lit(None, pl.Int64).alias("false_cases_ahead"),
            pl.lit(None, pl.Int64).alias("unlabelled_read"),
        )
    placed = case_of.filter(pl.col(CASE_POSITION).is_not_null()).select(
        pl.col(S.SC_ACCOUNT).cast(pl.String), CASE_POSITION
    )
    labelled = positives.get_column(S.LB_ACCOUNT).cast(pl.String).implode()
    true_positions = placed.filter(pl.col(S.SC_ACCOUNT).is_in(labelled)).get_column(CASE_POSITION)
    all_positions = placed.get_column(CASE_POSITION).unique()
    false_positions = all_positions.filter(~all_positions.is_in(true_positions.implode())).sort()
    first = (
        summary.select(S.LB_CASE, pl.col("_core").alias(S.SC_ACCOUNT))
        .explode(S.SC_ACCOUNT)
        .join(placed, on=S.SC_ACCOUNT)
        .group_by(S.LB_CASE)
        .agg(pl.col(CASE_POSITION).min().alias("scan_case_position"))
    )
    read = (
        placed.group_by(CASE_POSITION)
        .agg((~pl.col(S.SC_ACCOUNT).is_in(labelled)).sum().alias("_unlabelled"))
        .sort(CASE_POSITION)
        .select(
            pl.col(CASE_POSITION).alias("scan_case_position"),
            pl.col("_unlabelled").cum_sum().cast(pl.Int64).alias("unlabelled_read"),
        )
    )
    summary = summary.join(first, on=S.LB_CASE, how="left").join(
        read, on="scan_case_position", how="left"
    )
    return summary.with_columns(
        pl.when(pl.col("scan_case_position").is_not_null())
        .then(false_positions.search_sorted(summary.get_column("scan_case_position")))
        .cast(pl.Int64)
        .alias("false_cases_ahead")
    )


def _case_summary(cases: list[dict[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    if not cases:
        return {"n_cases": 0}
    best = pl.Series([c["best_core_rank"] for c in cases], dtype=pl.Int64)
    found_at = {str(k): int(best.le(k).fill_null(False).sum()) for k in sorted({20, *ks})}
    ahead = pl.Series([c["false_alarms_ahead"] for c in cases], dtype=pl.Int64)
    in_case = [c["core_in_scan_case"] for c in cases]
    return {
        "cases_with_core_in_a_scan_case": (
            None if None in in_case else sum(bool(x) for x in in_case)
        ),
        "n_cases": len(cases),
        "cases_with_core_in_top_k": found_at,
        "cases_with_under_20_false_alarms_ahead": int(ahead.lt(20).fill_null(False).sum()),
        "median_false_alarms_ahead": _median_rank(ahead),
        "median_best_core_rank": _median_rank(best),
        "worst_best_core_rank": None if best.null_count() else int(best.max()),
        "cases_unranked": int(best.null_count()),
        **_case_list_summary(cases),
    }


def _case_list_summary(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The case-list view: how many planted cases an analyst working the scan's
    cases in order reaches after fewer than CASE_LIST_BUDGET false cases."""
    ahead = pl.Series([c.get("false_cases_ahead") for c in cases], dtype=pl.Int64)
    position = pl.Series([c.get("scan_case_position") for c in cases], dtype=pl.Int64)
    read = pl.Series([c.get("unlabelled_read") for c in cases], dtype=pl.Int64)
    if position.null_count() == len(cases):
        return {"cases_under_budget_false_cases_ahead": None, "case_list_budget": None,
                "median_scan_case_position": None, "cases_with_under_20_unlabelled_read": None,
                "median_unlabelled_read": None}
    return {
        "case_list_budget": CASE_LIST_BUDGET,
        "cases_under_budget_false_cases_ahead": int(
            ahead.lt(CASE_LIST_BUDGET).fill_null(False).sum()
        ),
        "median_scan_case_position": _median_rank(position),
        "cases_with_under_20_unlabelled_read": int(read.lt(20).fill_null(False).sum()),
        "median_unlabelled_read": _median_rank(read),
    }


def _code_table(table: pl.DataFrame, n_positives: int, k_2x: int) -> list[dict[str, Any]]:
    """Per evidence code: how many accounts carry it and how many of them are positive."""
    exploded = table.select(S.LB_ACCOUNT, _CODE_LIST, _POSITIVE, _LOOKALIKE, _RANK).explode(
        _CODE_LIST
    )
    exploded = exploded.filter(pl.col(_CODE_LIST).is_not_null())
    if exploded.height == 0:
        return []
    per_code = (
        exploded.group_by(_CODE_LIST)
        .agg(
            pl.len().alias("accounts"),
            pl.col(_POSITIVE).sum().alias("positives"),
            pl.col(_LOOKALIKE).sum().alias("lookalikes"),
            _in_top(k_2x).sum().alias("in_top_2x"),
        )
        .with_columns(
            (pl.col("positives") / pl.col("accounts")).alias("precision"),
            (pl.col("positives") / max(1, n_positives)).alias("recall"),
        )
        .sort(["positives", "accounts", _CODE_LIST], descending=[True, False, False])
        .rename({_CODE_LIST: "code"})
    )
    return per_code.to_dicts()


def _share_of_codes(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The codes carried by the most accounts of ``frame``, with their share."""
    if frame.height == 0:
        return []
    counts = (
        frame.select(_CODE_LIST)
        .explode(_CODE_LIST)
        .drop_nulls()
        .group_by(_CODE_LIST)
        .len()
        .sort(["len", _CODE_LIST], descending=[True, False])
        .head(TOP_CODES)
    )
    return [
        {"code": row[_CODE_LIST], "share": row["len"] / frame.height}
        for row in counts.iter_rows(named=True)
    ]


def _diagnostics(
    table: pl.DataFrame, positives: pl.DataFrame, lookalikes: pl.DataFrame, k_2x: int
) -> dict[str, Any]:
    """Which codes the hits and the misses at k = 2x positives carry, per typology.

    The detector authors' view: a typology whose misses carry no evidence needs a
    detector; one whose misses carry the right code needs a stronger weight.
    """
    per_typology = {}
    with_codes = (
        positives.select(S.LB_ACCOUNT, S.LB_TYPOLOGY)
        .unique()
        .join(table.select(S.LB_ACCOUNT, _RANK, _CODE_LIST), on=S.LB_ACCOUNT, how="left")
    )
    for typology in sorted(with_codes.get_column(S.LB_TYPOLOGY).unique().to_list()):
        mine = with_codes.filter(pl.col(S.LB_TYPOLOGY) == typology)
        hits = mine.filter(_in_top(k_2x))
        misses = mine.filter(~_in_top(k_2x))
        no_evidence = misses.filter(pl.col(_CODE_LIST).list.len().fill_null(0) == 0).height
        per_typology[typology] = {
            "hits": hits.height,
            "misses": misses.height,
            "hit_codes": _share_of_codes(hits),
            "miss_codes": _share_of_codes(misses),
            "misses_without_evidence": no_evidence / misses.height if misses.height else 0.0,
        }
    false_positives = table.filter(_in_top(k_2x) & ~pl.col(_POSITIVE))
    lookalikes_top = table.filter(_in_top(k_2x) & pl.col(_LOOKALIKE))
    return {
        "k": k_2x,
        "typologies": per_typology,
        "false_positives": {
            "n": false_positives.height,
            "codes": _share_of_codes(false_positives),
        },
        "lookalikes_in_top": {
            "n": lookalikes_top.height,
            "codes": _share_of_codes(lookalikes_top),
            "groups": _lookalike_groups(table, lookalikes, k_2x),
        },
    }


def _lookalike_groups(table: pl.DataFrame, lookalikes: pl.DataFrame, k: int) -> list[dict]:
    """Per benign look-alike group: how many of its accounts land in the top k."""
    if lookalikes.height == 0:
        return []
    return (
        lookalikes.join(table.select(S.LB_ACCOUNT, _RANK), on=S.LB_ACCOUNT, how="left")
        .group_by(LOOKALIKE_GROUP)
        .agg(pl.len().alias("accounts"), _in_top(k).sum().alias("in_top"))
        .with_columns((pl.col("in_top") / pl.col("accounts")).alias("share_in_top"))
        .sort(["in_top", LOOKALIKE_GROUP], descending=[True, False])
        .to_dicts()
    )


def _feature_table(features: pl.DataFrame, labels: Labels) -> list[dict[str, Any]]:
    """How well each feature alone separates positives (ROC-AUC, 0.5 = not at all).

    AUC above 0.5: positives have higher values; below 0.5: lower. Sorted by the
    distance from 0.5, so the most telling features come first.
    """
    if S.ACCOUNT_ID not in features.columns:
        return []
    numeric = [
        name
        for name, dtype in features.schema.items()
        if name != S.ACCOUNT_ID and (dtype.is_numeric() or dtype == pl.Boolean)
    ]
    if not numeric:
        return []
    frame = features.select(
        pl.col(S.ACCOUNT_ID).cast(pl.String),
        *[pl.col(n).cast(pl.Float64) for n in numeric],
    ).with_columns(pl.col(S.ACCOUNT_ID).is_in(labels.positive_ids.implode()).alias(_POSITIVE))
    y_true = frame.get_column(_POSITIVE).to_numpy()
    if y_true.sum() in (0, len(y_true)):
        return []
    rows = []
    for name in numeric:
        values = frame.get_column(name).fill_nan(None)
        filled = values.fill_null(values.median() if values.null_count() < values.len() else 0.0)
        x = filled.to_numpy()
        auc = float(roc_auc_score(y_true, x)) if np.ptp(x) > 0 else 0.5
        rows.append(
            {
                "feature": name,
                "roc_auc": auc,
                "median_positive": _median_or_none(values.filter(frame[_POSITIVE])),
                "median_negative": _median_or_none(values.filter(~frame[_POSITIVE])),
            }
        )
    rows.sort(key=lambda r: (-abs(r["roc_auc"] - 0.5), r["feature"]))
    return rows


def _median_or_none(values: pl.Series) -> float | None:
    median = values.median()
    return None if median is None else float(median)


def evaluate_outdir(
    outdir: str | Path,
    labels_path: str | Path,
    ks: Iterable[int] = DEFAULT_KS,
    kind: str | None = None,
) -> Evaluation:
    """Read a scan's OUTDIR and a label file, and evaluate (what the CLI calls)."""
    outdir = Path(outdir)
    if not outdir.exists():
        raise InputError("scan output folder not found", file=str(outdir))
    scores = read_scores(outdir)
    features = read_features(outdir) if outdir.is_dir() else None
    return evaluate(
        scores, read_labels(labels_path, kind=kind), ks=ks, features=features,
        case_of=read_case_of(outdir),
    )


def read_case_of(outdir: str | Path) -> pl.DataFrame | None:
    """account_id → case_id from a scan's alerts.csv, and CASE_POSITION: where the
    case stands in cases.json (1 = first, the order the scan presents cases in;
    null without cases.json). None when there is no alerts file."""
    path = Path(outdir) / S.ALERTS_FILE
    if not path.is_file():
        return None
    try:
        alerts = pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise InputError(f"cannot parse alerts file: {exc}", file=str(path)) from None
    if S.SC_ACCOUNT not in alerts.columns or S.SC_CASE not in alerts.columns:
        return None
    case_of = alerts.select(S.SC_ACCOUNT, S.SC_CASE)
    cases_path = Path(outdir) / S.CASES_FILE
    if not cases_path.is_file():
        return case_of.with_columns(pl.lit(None, pl.Int64).alias(CASE_POSITION))
    from moneytrail.report.scan_output import CaseIndex

    order = [header["case_id"] for header in CaseIndex(cases_path).headers]
    positions = pl.DataFrame(
        {S.SC_CASE: order, CASE_POSITION: range(1, len(order) + 1)},
        schema={S.SC_CASE: pl.String, CASE_POSITION: pl.Int64},
    )
    return case_of.join(positions, on=S.SC_CASE, how="left")
