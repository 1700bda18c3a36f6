"""Evidence → one risk score per account → levels and alerts.

The sources insist that no single indicator proves trafficking (FIN-2020-A008
§II; FINTRAC-2021-OA001), so the combination rewards constellations:

1. each Evidence row weighs ``score × severity weight × detector weight ×
   code weight``;
2. per account and code only the strongest row counts, so one rule firing in
   many windows is still one indicator;
3. an indicator that fires on a large share of the scanned accounts says
   little about any one of them: a code seen on more than ``rarity_floor``
   of the accounts is weighed down by ``(rarity_floor / share) ** rarity_power``
   (the idea of inverse document frequency);
4. the account's codes combine by noisy-OR, ``1 − Π(1 − wᵢ)``: two medium
   indicators outrank one, and every further indicator raises the risk less;
5. an account whose evidence comes from one code only is damped by
   ``single_evidence_factor``; evidence from more than one detector family
   (rule, pattern, outlier) agreeing adds ``corroboration_bonus`` of the
   remaining headroom per extra family.

All weights live in :data:`DEFAULTS`; a params file overrides them under
``scoring:``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import ParamsError

DEFAULTS: dict[str, Any] = {
    # How much each detector family counts. Outliers say "unusual", not "illicit".
    "detector_weights": {"rule": 1.0, "pattern": 1.0, "outlier": 0.5},
    "severity_weights": {"low": 0.35, "medium": 0.6, "high": 0.85, "critical": 1.0},
    # Per-code multipliers (e.g. {"HT-TIME-01": 0.5}) to quiet a noisy indicator locally.
    "code_weights": {},
    "rarity_floor": 0.03,
    "rarity_power": 0.5,
    "single_evidence_factor": 0.7,
    "corroboration_bonus": 0.25,
    # Lower bounds of each level on the 0..1 risk scale.
    "levels": {"critical": 0.85, "high": 0.65, "medium": 0.4, "low": 0.1},
    # Accounts at or above this level are alerted (besides the top-k budget).
    "alert_level": "medium",
    # Review budget: the k riskiest accounts with any evidence are alerted too.
    "top_k": 0,
    "max_reasons": 3,
}

LEVELS_ORDER = ("none", *S.SEVERITIES)

_WEIGHT = "_weight"
_TIE = "_tie_break"


def weigh_evidence(
    evidence: pl.DataFrame, settings: dict[str, Any], n_accounts: int | None = None
) -> pl.DataFrame:
    """The Evidence table with the weight each row carries in scoring.

    ``n_accounts`` (the number of scanned accounts) turns on the rarity
    weighting; without it every code counts at full weight.
    """
    det = settings["detector_weights"]
    sev = settings["severity_weights"]
    codes = settings["code_weights"]
    weight = (
        pl.col(S.EV_SCORE)
        * pl.col(S.EV_SEVERITY).replace_strict(sev, default=0.0, return_dtype=pl.Float64)
        * pl.col(S.EV_DETECTOR).replace_strict(det, default=0.0, return_dtype=pl.Float64)
    )
    if codes:
        weight = weight * pl.col(S.EV_CODE).replace_strict(
            {str(k): float(v) for k, v in codes.items()}, default=1.0, return_dtype=pl.Float64
        )
    if n_accounts:
        share = pl.col(S.EV_ACCOUNT).n_unique().over(S.EV_CODE) / n_accounts
        rarity = (settings["rarity_floor"] / share).clip(upper_bound=1.0) ** settings[
            "rarity_power"
        ]
        weight = weight * rarity
    return evidence.with_columns(weight.clip(0.0, 1.0).alias(_WEIGHT))


def score_accounts(
    evidence: pl.DataFrame,
    accounts: pl.DataFrame | pl.LazyFrame,
    settings: dict[str, Any] | None = None,
    tie_break: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Rank every scanned account.

    ``accounts`` is the frame of scanned account ids (column ``S.ACCOUNT_ID``);
    accounts without evidence get risk 0. ``tie_break`` (account id and one
    number, higher = more unusual: the outlier ensemble's score) orders accounts
    of equal risk, above all the many without evidence, so that an analyst who
    works past the evidence meets the most unusual accounts first; the account
    id settles what is still tied. Returns the columns of ``S.SCORE_COLUMNS``,
    sorted by rank.
    """
    settings = check_settings({**DEFAULTS, **(settings or {})})
    universe = accounts.lazy() if isinstance(accounts, pl.DataFrame) else accounts
    universe = universe.select(pl.col(S.ACCOUNT_ID).cast(pl.String)).unique().collect()

    weighted = weigh_evidence(evidence, settings, universe.height).lazy()
    universe = universe.lazy()
    per_code = (
        # ties broken by the row's own fields, so equal weights pick the same row
        weighted.sort(
            [_WEIGHT, S.EV_DETECTOR, S.EV_REASON, S.EV_ROLE],
            descending=[True, False, False, False],
            nulls_last=True,
        )
        .group_by(S.EV_ACCOUNT, S.EV_CODE, maintain_order=True)
        .agg(
            pl.col(_WEIGHT).first(),
            pl.col(S.EV_DETECTOR).first(),
            pl.col(S.EV_REASON).first(),
            pl.col(S.EV_ROLE).first(),
        )
    )
    single = settings["single_evidence_factor"]
    bonus = settings["corroboration_bonus"]
    per_account = (
        per_code.group_by(S.EV_ACCOUNT)
        .agg(
            (1.0 - (1.0 - pl.col(_WEIGHT)).product()).alias("_noisy_or"),
            pl.col(S.EV_CODE).n_unique().alias("_n_codes"),
            pl.col(S.EV_DETECTOR).n_unique().alias("_n_detectors"),
            pl.len().alias(S.SC_N_EVIDENCE),
            pl.col(S.EV_CODE)
            .sort_by([_WEIGHT, S.EV_CODE], descending=[True, False])
            .alias("_codes"),
            pl.col(S.EV_REASON)
            .sort_by([_WEIGHT, S.EV_CODE], descending=[True, False])
            .head(settings["max_reasons"])
            .alias("_reasons"),
            _role_vote().alias(S.SC_ROLE),
        )
        .with_columns(
            pl.when(pl.col("_n_codes") == 1)
            .then(pl.col("_noisy_or") * single)
            .otherwise(pl.col("_noisy_or"))
            .alias("_base")
        )
        .with_columns(
            (
                pl.col("_base")
                + (1.0 - pl.col("_base"))
                * (1.0 - (1.0 - bonus) ** (pl.col("_n_detectors") - 1).clip(lower_bound=0))
            ).alias(S.SC_RISK)
        )
    )
    # n_evidence counts the account's evidence rows, not only its distinct codes.
    n_rows = evidence.lazy().group_by(S.EV_ACCOUNT).agg(pl.len().alias("_rows"))
    if tie_break is not None:
        tie = tie_break.lazy().select(
            pl.col(tie_break.columns[0]).cast(pl.String).alias(S.ACCOUNT_ID),
            pl.col(tie_break.columns[1]).cast(pl.Float64).alias(_TIE),
        )
    else:
        tie = universe.select(S.ACCOUNT_ID, pl.lit(None, pl.Float64).alias(_TIE))
    scored = (
        universe.join(per_account, left_on=S.ACCOUNT_ID, right_on=S.EV_ACCOUNT, how="left")
        .join(tie, on=S.ACCOUNT_ID, how="left")
        .join(n_rows, left_on=S.ACCOUNT_ID, right_on=S.EV_ACCOUNT, how="left")
        .with_columns(
            pl.col(S.SC_RISK).fill_null(0.0).round(6),
            pl.col("_rows").fill_null(0).cast(pl.Int64).alias(S.SC_N_EVIDENCE),
            pl.col(S.SC_ROLE).fill_null(""),
            pl.col("_codes").list.join(";").fill_null("").alias(S.SC_CODES),
            pl.col("_reasons").list.join(" | ").fill_null("").alias(S.SC_REASONS),
        )
        .sort([S.SC_RISK, _TIE, S.ACCOUNT_ID], descending=[True, True, False], nulls_last=True)
        .with_row_index(S.SC_RANK, offset=1)
        .with_columns(
            pl.col(S.SC_RANK).cast(pl.Int64),
            level_expr(pl.col(S.SC_RISK), settings["levels"]).alias(S.SC_LEVEL),
        )
        .select(S.SCORE_COLUMNS)
    )
    return scored.collect()


def _role_vote() -> pl.Expr:
    """The role the account's evidence points to most strongly (by weight),
    except that a sextortion-victim indicator outranks a structural role.

    A teenager paying an extortioner is a spoke of the extortioner's fan-in, and
    the pattern calls every spoke a facilitator; FinCEN asks that victims not be
    reported as subjects, so the victim hypothesis wins over a role read off the
    shape of the money alone. (The broader ``victim`` indicators, cash deposits
    in circuit cities for one, fire on couriers and launderers too and do not
    override.)"""
    top = (
        pl.col(S.EV_ROLE)
        .sort_by([_WEIGHT, S.EV_CODE], descending=[True, False])
        .drop_nulls()
        .first()
    )
    extorted = (pl.col(S.EV_ROLE) == "extortion_victim").any()
    return (
        pl.when(top.is_in(list(S.STRUCTURAL_ROLES)) & extorted)
        .then(pl.lit("extortion_victim"))
        .otherwise(top)
    )


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The scoring settings, refused with a hint where levels make no sense.
    (Their shapes are checked where a params file is read: moneytrail.params.)"""
    if settings["alert_level"] not in S.SEVERITIES:
        raise ParamsError(
            f"scoring.alert_level is {settings['alert_level']!r}",
            hint=f"one of: {', '.join(S.SEVERITIES)}",
        )
    bounds = [settings["levels"][name] for name in reversed(S.SEVERITIES)]
    if any(not 0.0 <= b <= 1.0 for b in bounds) or bounds != sorted(bounds, reverse=True):
        raise ParamsError(
            f"scoring.levels {settings['levels']} are not lower bounds on the 0..1 risk scale "
            "from critical down to low",
            hint="e.g. {critical: 0.85, high: 0.65, medium: 0.4, low: 0.1}",
        )
    return settings


def level_expr(risk: pl.Expr, levels: dict[str, float]) -> pl.Expr:
    """Map a 0..1 risk to a level name."""
    expr = pl.lit("none")
    for name in S.SEVERITIES:  # low → critical: later, higher levels win
        expr = pl.when(risk >= levels[name]).then(pl.lit(name)).otherwise(expr)
    return expr


def select_alerts(scores: pl.DataFrame, settings: dict[str, Any] | None = None) -> pl.DataFrame:
    """Accounts at or above the alert level, plus the top-k budget."""
    settings = check_settings({**DEFAULTS, **(settings or {})})
    floor = LEVELS_ORDER.index(settings["alert_level"])
    high_enough = [name for name in LEVELS_ORDER if LEVELS_ORDER.index(name) >= floor]
    in_budget = (pl.col(S.SC_RANK) <= int(settings["top_k"] or 0)) & (pl.col(S.SC_RISK) > 0)
    return scores.filter(pl.col(S.SC_LEVEL).is_in(high_enough) | in_budget)
