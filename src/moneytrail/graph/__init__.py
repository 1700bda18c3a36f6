"""Graph typology detectors: fan-in/out, cycles, layered flows, funnels, chains, clusters.

Usage::

    from moneytrail.graph import detect_patterns, DEFAULTS
    result = detect_patterns(transactions_lazy, accounts, settings)
    result.evidence   # Evidence rows, detector "pattern", code = pattern name
    result.notices    # what was skipped and why

Whole-graph quantities are polars group-bys and joins; networkx is used only
on small candidate subgraphs (:func:`neighbourhood`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.evidence import concat_evidence, empty_evidence
from moneytrail.graph._common import parse_window, prepare_edges, to_evidence
from moneytrail.graph.cycles import detect_cycles
from moneytrail.graph.fan import detect_fan
from moneytrail.graph.subgraph import neighbourhood

PATTERN_CODES: tuple[str, ...] = (
    "fan_in",
    "fan_out",
    "cycle",
    "scatter_gather",
    "gather_scatter",
    "bipartite",
    "stack",
    "funnel",
    "pass_through_chain",
    "shared_identifiers",
)

DEFAULTS: dict[str, Any] = {
    # Which detectors run (any subset of PATTERN_CODES).
    "enabled": list(PATTERN_CODES),
    # A pair of accounts with more transfers than this over the export has a
    # standing relationship (salary, rent, family); only pairs at or under it
    # count as the one-off transfers that laundering networks are made of.
    "max_pair_txns": 2,
    # fan_in / fan_out: distinct one-off counterparties of one hub within the window.
    "fan_min_counterparties": 5,
    "fan_window": "90d",
    # cycle: longest loop searched (accounts), round-trip window, and the
    # largest relative difference between the first and the returning amount
    # (1.0 accepts any; fees and skimming make real loops lose a little).
    "cycle_max_length": 6,
    "cycle_window": "30d",
    "cycle_max_amount_drift": 1.0,
}


@dataclass
class PatternResult:
    """Evidence rows of all pattern instances, and notices for the user."""

    evidence: pl.DataFrame = field(default_factory=empty_evidence)
    notices: list[str] = field(default_factory=list)


def detect_patterns(
    transactions: pl.LazyFrame,
    accounts: pl.DataFrame | None = None,
    settings: dict[str, Any] | None = None,
) -> PatternResult:
    """Run every enabled typology detector and return their Evidence.

    ``settings`` is ``params.settings(p, "patterns", DEFAULTS)``; None means
    the defaults. ``accounts`` (optional KYC table) feeds the shared-identifier
    detector.
    """
    cfg = {**DEFAULTS, **(settings or {})}
    if isinstance(transactions, pl.DataFrame):
        transactions = transactions.lazy()
    enabled = set(cfg["enabled"])
    unknown = enabled - set(PATTERN_CODES)
    if unknown:
        from moneytrail.errors import ParamsError

        raise ParamsError(
            f"patterns.enabled names unknown pattern(s): {', '.join(sorted(unknown))}",
            hint=f"patterns are: {', '.join(PATTERN_CODES)}",
        )
    edges, notices = prepare_edges(transactions)
    edges = edges.collect().lazy()  # every detector reads it; compute once
    max_pair = int(cfg["max_pair_txns"])
    frames: list[pl.DataFrame] = []

    for code, direction in (("fan_in", "in"), ("fan_out", "out")):
        if code in enabled:
            inst = detect_fan(
                edges,
                direction,
                window=parse_window(cfg["fan_window"], "fan_window"),
                min_counterparties=int(cfg["fan_min_counterparties"]),
                max_pair_txns=max_pair,
            )
            frames.append(to_evidence(inst.drop("hub", strict=False), code, f"{code}-"))
    if "cycle" in enabled:
        inst = detect_cycles(
            edges,
            window=parse_window(cfg["cycle_window"], "cycle_window"),
            max_length=int(cfg["cycle_max_length"]),
            max_pair_txns=max_pair,
            max_amount_drift=float(cfg["cycle_max_amount_drift"]),
        )
        frames.append(to_evidence(inst, "cycle", "cycle-"))

    evidence = concat_evidence(frames)
    evidence = evidence.filter(pl.col(S.EV_ACCOUNT) != S.CASH_NODE)
    return PatternResult(evidence=evidence, notices=notices)


__all__ = [
    "DEFAULTS",
    "PATTERN_CODES",
    "PatternResult",
    "detect_patterns",
    "neighbourhood",
]
