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

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.evidence import concat_evidence, empty_evidence
from moneytrail.graph._common import (
    MEMBERS,
    mark_one_off,
    parse_window,
    prepare_edges,
    to_evidence,
)
from moneytrail.graph.cycles import detect_cycles
from moneytrail.graph.fan import (
    account_side_counts,
    coordinated_instances,
    detect_fan,
    one_off_pair_firsts,
    without_coordination,
)
from moneytrail.graph.flow import detect_chains, detect_funnels
from moneytrail.graph.identifiers import detect_shared_identifiers
from moneytrail.graph.layered import (
    bipartite_blocks,
    bipartite_evidence,
    detect_gather_scatter,
    detect_scatter_gather,
    sparse_edges,
    stack_evidence,
)
from moneytrail.graph.subgraph import neighbourhood
from moneytrail.parts import parts_needed

PATTERN_CODES: tuple[str, ...] = (
    "fan_in",
    "fan_out",
    "coordinated_fan",
    "cycle",
    "scatter_gather",
    "gather_scatter",
    "bipartite",
    "stack",
    "funnel",
    "pass_through_chain",
    "shared_identifiers",
)

# Transfers between accounts (about 70 bytes each) held in memory through the
# detectors; more are written to a temporary Parquet file (see detect_patterns).
EDGES_IN_MEMORY = 4_000_000
# ... and then the detectors whose work is per account (fans, gather-scatter)
# run a part of the accounts at a time, each part with about this many
# transfers (a group-by over every pair of accounts at once costs some 250
# bytes a transfer; see moneytrail.parts).
EDGES_PER_PART = 2_000_000

DEFAULTS: dict[str, Any] = {
    # Which detectors run (any subset of PATTERN_CODES).
    "enabled": list(PATTERN_CODES),
    # A pair of accounts with more transfers than this over the export has a
    # standing relationship (salary, rent, family); only pairs at or under it
    # count as the one-off transfers that laundering networks are made of.
    "max_pair_txns": 2,
    # ... and so does a pair with two transfers a month apart (the gap within a
    # band of days) at amounts within standing_amount_ratio of each other: a
    # two-month export shows a monthly rent, bill or benefit only twice, and
    # bills can double from one month to the next. (On sample_data, two months,
    # utilities, landlords and a benefits office were coordinated fans of
    # hundreds of ordinary payers: AP 0.662 -> 0.781 with amounts within 1.5,
    # -> 0.788 within 3.) Weekly and fortnightly bands are left out: such a
    # relationship shows more than two transfers in an export of over a month,
    # so there they only catch pairs that happened to pay twice a week or two
    # apart, planted laundering among them; with them 180-day generated sets
    # lost up to 0.018 AP, with the monthly band alone they move by 0.002 at most.
    "standing_cadence_days": [[27.5, 31.5]],
    "standing_amount_ratio": 3.0,
    # fan_in / fan_out: distinct one-off counterparties of one hub within the window.
    "fan_min_counterparties": 5,
    # ... and at least this multiple of the median hub's busiest window, so that
    # where everybody pays new people all the time, only outliers are fans.
    "fan_population_multiple": 3.0,
    "fan_window": "180d",
    # Spokes of a fan carry full evidence when at least fan_spoke_min_cluster,
    # and at least fan_cluster_min_share, of the fan's counterparties (themselves
    # included) paid a similar amount (within fan_cluster_amount_ratio, one to
    # two steps either way) around the same time (within one to two
    # fan_cluster_window): coordinated senders. Other spokes are weighed down
    # where being one is common: weight (fan_loose_spoke_share / share of the
    # accounts on the spokes' side that are such spokes) squared, at most 1, and
    # under 0.25 they are not reported. (fan_cluster_min_share 0.5 reports far
    # fewer spokes, 614 instead of 2,439 fan_in accounts on sample_data, but the
    # benign hubs left then weigh more in scoring and average precision drops
    # from 0.46 to 0.42 on a 5,000-account generated set.)
    "fan_spoke_min_cluster": 4,
    "fan_cluster_min_share": 0.0,
    "fan_cluster_window": "7d",
    "fan_cluster_amount_ratio": 1.25,
    "fan_loose_spoke_share": 0.15,
    # coordinated_fan: a fan-in or fan-out whose largest cluster of similar
    # amounts around the same time holds at least this share of its one-off
    # counterparties or of its money (and moves min_instance_total): its hub
    # and the clustered spokes carry this rarer indicator besides the fan's
    # own; not where the accounts table says the hub is a business.
    "coordinated_min_share": 0.5,
    # At least this many one-off transfers sent by one account spaced like
    # clockwork (gaps varying by at most this share of their mean) are standing
    # orders, payroll or subscriptions, not evidence; the same test drops a
    # fan-out run on such a schedule. Receivers are not tested: new payers
    # arriving like clockwork are coordination, not a standing order.
    "scheduled_min_transfers": 8,
    "scheduled_max_gap_cv": 0.1,
    # cycle: shortest and longest loop searched (accounts), round-trip window,
    # and the largest relative difference between the first and the returning
    # amount, over the larger of the two (1.0 accepts any; fees and skimming
    # make real loops lose a little). Two accounts paying each other back and
    # forth are a refund or a loan repaid, not a loop through a ring: with 2,
    # 12 to 19 such pairs per 5,000 generated accounts, almost none planted,
    # carried the code (AMLSim's and the typology literature's cycles have at
    # least three members). The 2019 AMLSim 20K sets do pay back and forth
    # within their patterns: 2 ranks them better (average precision 0.117 ->
    # 0.159 on 20K_cycle200, 0.085 -> 0.097 on 20K_fanin200) and generated data
    # and sample_data a little worse (0.639 -> 0.627, 0.666 -> 0.653).
    "cycle_min_length": 3,
    "cycle_max_length": 6,
    "cycle_window": "30d",
    "cycle_max_amount_drift": 1.0,
    # Layered flows share one window; accounts with more one-off partners than
    # layer_max_partners (processors, payroll) are left out of these joins.
    "layer_window": "30d",
    "layer_max_partners": 200,
    # scatter_gather: distinct intermediaries between one source and one sink.
    "scatter_min_intermediaries": 3,
    # gather_scatter: one-off payers and payees of the hub, each side.
    "gather_min_each_side": 3,
    # ... passing on at least this share of what it collected (or collecting at
    # least this share of what it paid out), the smaller side over the larger.
    "gather_min_flow_ratio": 0.3,
    # ... payers (payees) paying (paid) within this ratio of at least
    # gather_min_each_side - 1 others on their side carry the full score, any
    # other member gather_loose_member_weight of it (null: all carry it). Mules
    # told what to pay look like that, one ordinary payment into a busy account
    # does not; but AMLSim's gather-scatter members move random amounts, so the
    # others keep most of the weight (0.5: AP 0.575 -> 0.620 on 5,000 generated
    # accounts but AMLSim small 0.687 -> 0.674; 0.8: 0.610 and 0.684).
    "gather_member_amount_ratio": 1.5,
    "gather_loose_member_weight": 0.8,
    # fan_in / fan_out / gather_scatter / funnel / pass_through_chain: least
    # money moved by one instance (sum of its transfers), in the export's
    # currency: friends splitting a bill are no fan.
    "min_instance_total": 1000.0,
    # bipartite / stack: accounts per side, and the share of possible
    # sender→receiver links that must exist.
    "bipartite_min_side": 3,
    "bipartite_min_density": 0.6,
    # pass_through_chain: one-off hops, each within the delay of the one before.
    # 2 finds AMLworld's STACK blocks (A → B → C) and ranks about as well (average
    # precision 0.612 → 0.616 sample_data, 0.645 → 0.643 AMLSim small, 0.461 →
    # 0.459 on 5,000 generated accounts) but puts the code on 3.5 times as many
    # accounts (sample_data 280 → 986, precision 0.15 → 0.11) and finds 15 times
    # as many chains in random one-off traffic: a setting, not the default.
    "chain_min_hops": 3,
    "chain_max_hops": 6,
    "chain_max_hop_delay": "72h",
    # funnel: within the window, this many deposits from this many distinct
    # sources (payers, or cash in distinct cities), with at least this share of
    # the money sent on to at most this many destinations.
    "funnel_window": "7d",
    "funnel_min_deposits": 5,
    "funnel_min_sources": 3,
    "funnel_max_destinations": 2,
    "funnel_min_passed_share": 0.7,
    # ... not counting what goes to a standing payee: at least this many
    # transfers to one account over at least this span, at regular intervals
    # (gaps varying by at most this share of their mean): the holder's own
    # savings, rent or a bill (0 counts every transfer out).
    "standing_min_transfers": 4,
    "standing_min_span": "60d",
    "standing_max_gap_cv": 0.35,
    # shared_identifiers: distinct holders a cluster needs when they share only
    # household-type identifiers (address, IP, device); sharing a phone or an
    # e-mail across two holders is enough. A value shared by more accounts than
    # shared_max_accounts is a place (branch, shelter, NAT), not a link.
    "shared_min_holders": 4,
    "shared_max_accounts": 25,
}


def _persons_only(instances: pl.DataFrame, accounts: pl.DataFrame | None) -> pl.DataFrame:
    """Coordinated fans whose hub is not known to be a business: a business paying
    its staff, or paid a fixed price by its customers, has the same shape."""
    if accounts is None or S.HOLDER_TYPE not in accounts.columns or instances.height == 0:
        return instances
    businesses = (
        accounts.filter(pl.col(S.HOLDER_TYPE).cast(pl.String).str.to_lowercase() == "business")
        .get_column(S.ACCOUNT_ID)
        .cast(pl.String)
        .implode()
    )
    return instances.filter(~pl.col(MEMBERS).list.first().is_in(businesses))


@dataclass
class PatternResult:
    """Evidence rows of all pattern instances, and notices for the user."""

    evidence: pl.DataFrame = field(default_factory=empty_evidence)
    notices: list[str] = field(default_factory=list)


def check_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` if every pattern it enables is known (shapes: moneytrail.params)."""
    unknown = set(cfg["enabled"]) - set(PATTERN_CODES)
    if unknown:
        from moneytrail.errors import ParamsError

        raise ParamsError(
            f"patterns.enabled names unknown pattern(s): {', '.join(sorted(unknown))}",
            hint=f"patterns are: {', '.join(PATTERN_CODES)}",
        )
    return cfg


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
    cfg = check_settings({**DEFAULTS, **(settings or {})})
    if isinstance(transactions, pl.DataFrame):
        transactions = transactions.lazy()
    enabled = set(cfg["enabled"])
    full, edges, notices = prepare_edges(transactions)
    edges = mark_one_off(
        edges,
        max_pair_txns=int(cfg["max_pair_txns"]),
        scheduled_min=int(cfg["scheduled_min_transfers"]),
        scheduled_max_cv=float(cfg["scheduled_max_gap_cv"]),
        cadences=[(float(lo), float(hi)) for lo, hi in cfg["standing_cadence_days"]],
        cadence_amount_ratio=float(cfg["standing_amount_ratio"]),
    )
    frames: list[pl.DataFrame] = []
    # every detector reads the edges: computed once, held in memory or, above
    # EDGES_IN_MEMORY, written to a file that each detector scans for the rows and
    # columns it reads (then memory holds only each detector's own working set)
    edges = edges.collect()
    with tempfile.TemporaryDirectory(prefix="moneytrail-edges-") as tmp:
        spilled = edges.height > EDGES_IN_MEMORY
        parts = parts_needed(edges.height, EDGES_PER_PART) if spilled else 1
        if spilled:
            path = Path(tmp) / "edges.parquet"
            edges.write_parquet(path, compression="lz4")
            edges = pl.scan_parquet(path)
        else:
            edges = edges.lazy()
        _run_detectors(
            full, edges, spilled, parts, Path(tmp), accounts, cfg, enabled, frames, notices
        )
    evidence = concat_evidence(frames)
    evidence = evidence.filter(pl.col(S.EV_ACCOUNT) != S.CASH_NODE)
    return PatternResult(evidence=evidence, notices=notices)


def _run_detectors(
    full: pl.LazyFrame,
    edges: pl.LazyFrame,
    spilled: bool,
    parts: int,
    workdir: Path,
    accounts: pl.DataFrame | None,
    cfg: dict[str, Any],
    enabled: set[str],
    frames: list[pl.DataFrame],
    notices: list[str],
) -> None:
    """Each enabled detector in turn; their instances as Evidence into ``frames``.

    ``parts`` > 1: the per-account detectors run a part of the accounts at a
    time, with their temporary files in ``workdir``."""

    def add(code: str, instances: pl.DataFrame) -> None:
        frames.append(to_evidence(instances, code, f"{code}-"))

    fans = enabled & {"fan_in", "fan_out", "coordinated_fan"}
    side_counts = account_side_counts(edges) if fans else None
    pair_firsts = one_off_pair_firsts(edges, parts, workdir) if fans else None
    coordinated: list[pl.DataFrame] = []
    for code, direction in (("fan_in", "in"), ("fan_out", "out")):
        if fans & {code, "coordinated_fan"}:
            inst = detect_fan(
                edges,
                direction,
                window=parse_window(cfg["fan_window"], "fan_window"),
                min_counterparties=int(cfg["fan_min_counterparties"]),
                scheduled_min_transfers=int(cfg["scheduled_min_transfers"]),
                scheduled_max_gap_cv=float(cfg["scheduled_max_gap_cv"]),
                population_multiple=float(cfg["fan_population_multiple"]),
                min_total=float(cfg["min_instance_total"]),
                cluster_window=parse_window(cfg["fan_cluster_window"], "fan_cluster_window"),
                cluster_amount_ratio=float(cfg["fan_cluster_amount_ratio"]),
                spoke_min_cluster=int(cfg["fan_spoke_min_cluster"]),
                cluster_min_share=float(cfg["fan_cluster_min_share"]),
                loose_spoke_share=float(cfg["fan_loose_spoke_share"]),
                coordinated_min_share=float(cfg["coordinated_min_share"]),
                side_counts=side_counts,
                pair_firsts=pair_firsts,
                parts=parts,
            )
            if code in enabled:
                add(code, without_coordination(inst).drop("hub", strict=False))
            if "coordinated_fan" in enabled:
                more = coordinated_instances(inst, direction)
                if more.height:
                    coordinated.append(more)
    if coordinated:
        add("coordinated_fan", _persons_only(pl.concat(coordinated), accounts))
    # a frame per pair of accounts: let go before the next detectors' own
    del side_counts, pair_firsts, coordinated
    if "cycle" in enabled:
        add(
            "cycle",
            detect_cycles(
                edges,
                window=parse_window(cfg["cycle_window"], "cycle_window"),
                min_length=int(cfg["cycle_min_length"]),
                max_length=int(cfg["cycle_max_length"]),
                max_amount_drift=float(cfg["cycle_max_amount_drift"]),
                big=spilled,
            ),
        )
    layer_window = parse_window(cfg["layer_window"], "layer_window")
    sparse = sparse_edges(edges, int(cfg["layer_max_partners"]))
    if not spilled:  # (spilled: each detector filters the file as it scans it)
        sparse = sparse.collect().lazy()
    if "scatter_gather" in enabled:
        add(
            "scatter_gather",
            detect_scatter_gather(
                sparse,
                window=layer_window,
                min_intermediaries=int(cfg["scatter_min_intermediaries"]),
                parts=parts,
            ),
        )
    if "gather_scatter" in enabled:
        add(
            "gather_scatter",
            detect_gather_scatter(
                sparse,
                window=layer_window,
                min_each_side=int(cfg["gather_min_each_side"]),
                min_flow_ratio=float(cfg["gather_min_flow_ratio"]),
                min_total=float(cfg["min_instance_total"]),
                member_amount_ratio=(
                    None
                    if cfg["gather_member_amount_ratio"] is None
                    else float(cfg["gather_member_amount_ratio"])
                ),
                loose_member_weight=float(cfg["gather_loose_member_weight"]),
                parts=parts,
            ),
        )
    if enabled & {"bipartite", "stack"}:
        min_side = int(cfg["bipartite_min_side"])
        blocks = bipartite_blocks(
            sparse,
            window=layer_window,
            min_side=min_side,
            min_density=float(cfg["bipartite_min_density"]),
            parts=parts,
        )
        if "bipartite" in enabled:
            add("bipartite", bipartite_evidence(blocks, min_side))
        if "stack" in enabled:
            add("stack", stack_evidence(blocks, window=layer_window, min_side=min_side))
    if "pass_through_chain" in enabled:
        add(
            "pass_through_chain",
            detect_chains(
                # (spilled: pruned as it is scanned, not held whole)
                sparse if spilled else sparse.collect(),
                max_hop_delay=parse_window(cfg["chain_max_hop_delay"], "chain_max_hop_delay"),
                min_hops=int(cfg["chain_min_hops"]),
                max_hops=int(cfg["chain_max_hops"]),
                min_total=float(cfg["min_instance_total"]),
            ),
        )
    del sparse
    if "funnel" in enabled:
        add(
            "funnel",
            detect_funnels(
                full,
                edges,
                window=parse_window(cfg["funnel_window"], "funnel_window"),
                min_deposits=int(cfg["funnel_min_deposits"]),
                min_sources=int(cfg["funnel_min_sources"]),
                max_destinations=int(cfg["funnel_max_destinations"]),
                min_passed_share=float(cfg["funnel_min_passed_share"]),
                min_total=float(cfg["min_instance_total"]),
                standing_min_transfers=int(cfg["standing_min_transfers"]),
                standing_min_span=parse_window(cfg["standing_min_span"], "standing_min_span"),
                standing_max_gap_cv=float(cfg["standing_max_gap_cv"]),
                big=spilled,
            ),
        )
    if "shared_identifiers" in enabled:
        if accounts is None:
            notices.append("patterns: shared_identifiers skipped: no accounts table given")
        else:
            inst, more = detect_shared_identifiers(
                accounts,
                full,
                min_holders=int(cfg["shared_min_holders"]),
                max_accounts=int(cfg["shared_max_accounts"]),
            )
            notices.extend(more)
            add("shared_identifiers", inst)


__all__ = [
    "DEFAULTS",
    "PATTERN_CODES",
    "PatternResult",
    "detect_patterns",
    "neighbourhood",
]
