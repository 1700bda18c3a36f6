"""Group alerted accounts into cases: the networks an investigator opens.

Two alerted accounts belong to one case when the evidence links them:

* they are members of the same detected pattern instance (a cycle, a fan-in,
  a cluster of shared identifiers: the Evidence ``instance_id``);
* a transaction between them supports the evidence of either one (the
  evidence of the sender or of the receiver, not a third member's pattern);
* they share an identifier (address, phone, e-mail, device, IP) in the
  accounts table.

Plain money flows between two alerted accounts do not link them by
themselves: in a busy ledger most risky accounts are a few hops apart, and a
case must stay small enough to read. Linking is over the small set of
alerted accounts only, so networkx sees a few thousand nodes at most.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl

from moneytrail import schema as S
from moneytrail.scoring import DEFAULTS as SCORING_DEFAULTS
from moneytrail.scoring import level_expr

DEFAULTS: dict[str, Any] = {
    # Transactions listed per case (the timeline and exports need them; the
    # totals are computed over all of them).
    "max_case_txns": 5000,
    # A linked group larger than this is split into its communities (Louvain,
    # seeded), so one busy hub cannot pull hundreds of accounts into a case
    # nobody can read.
    "max_case_accounts": 50,
    # Evidence weaker than this links nothing: a faint spoke of a fan should not
    # pull its hub's whole case into its own.
    "link_min_score": 0.5,
}


def build_cases(
    alerts: pl.DataFrame,
    evidence: pl.DataFrame,
    transactions: pl.LazyFrame,
    accounts: pl.DataFrame | None = None,
    settings: dict[str, Any] | None = None,
    levels: dict[str, float] | None = None,
) -> tuple[list[dict[str, Any]], pl.DataFrame]:
    """Cases (as JSON-ready dicts, sorted by score) and ``account_id → case_id``."""
    cases, case_of = stream_cases(alerts, evidence, transactions, accounts, settings, levels)
    return list(cases), case_of


def stream_cases(
    alerts: pl.DataFrame,
    evidence: pl.DataFrame,
    transactions: pl.LazyFrame,
    accounts: pl.DataFrame | None = None,
    settings: dict[str, Any] | None = None,
    levels: dict[str, float] | None = None,
) -> tuple[Iterator[dict[str, Any]], pl.DataFrame]:
    """As :func:`build_cases`, but each case dict is made as the iterator reaches
    it: a big scan's cases (1.6 M money links at 20 M rows) are written to
    cases.json one at a time (:func:`write_cases`) instead of held all at once.
    The grouping and every case's numbers are computed before this returns."""
    settings = {**DEFAULTS, **(settings or {})}
    levels = levels or SCORING_DEFAULTS["levels"]
    alerted = alerts.select(S.SC_ACCOUNT).unique()
    if alerted.height == 0:
        return iter([]), pl.DataFrame(schema={S.SC_ACCOUNT: pl.String, S.SC_CASE: pl.String})

    member_evidence = evidence.join(
        alerted, left_on=S.EV_ACCOUNT, right_on=S.SC_ACCOUNT, how="semi"
    )
    linking = member_evidence.filter(pl.col(S.EV_SCORE) >= settings["link_min_score"])
    links = _instance_links(linking) + _supporting_flow_links(linking, transactions, alerted)
    shared = _shared_identifiers(accounts, alerted)
    for item in shared:
        members = item["accounts"]
        links.extend((members[0], other) for other in members[1:])
    # Nodes and edges go in in sorted order: Louvain's result depends on it even
    # with a fixed seed, and the same export must give the same cases.
    graph = nx.Graph()
    graph.add_nodes_from(sorted(alerted[S.SC_ACCOUNT].to_list()))
    graph.add_edges_from(sorted({(min(a, b), max(a, b)) for a, b in links}))

    # Deterministic case ids: components ordered by their riskiest member's rank.
    rank = dict(zip(alerts[S.SC_ACCOUNT].to_list(), alerts[S.SC_RANK].to_list(), strict=True))
    groups = _split_large(graph, settings["max_case_accounts"])
    components = sorted(
        (sorted(c, key=lambda a: (rank[a], a)) for c in groups),
        key=lambda members: rank[members[0]],
    )
    case_of = pl.DataFrame(
        {
            S.SC_ACCOUNT: [a for members in components for a in members],
            S.SC_CASE: [f"C{i:05d}" for i, members in enumerate(components, 1) for _ in members],
        }
    )
    cases = _describe(case_of, alerts, member_evidence, transactions, shared, settings, levels)
    return cases, case_of


def write_cases(path: str | Path, cases: Iterable[dict[str, Any]]) -> int:
    """Write ``{"cases": [...]}`` to ``path`` one case at a time; the number written.

    Compact, as ``json.dumps`` writes it by default (an indent makes json use
    its slow pure-Python encoder), and ASCII, which lets readers seek to a case
    by byte offset (moneytrail.report's CaseIndex).
    """
    written = 0
    with open(path, "w", encoding="ascii") as out:
        out.write('{"cases": [')
        for case in cases:
            out.write(", " if written else "")
            out.write(json.dumps(case, default=str))
            written += 1
        out.write("]}")
    return written


def _split_large(graph: nx.Graph, limit: int) -> list[set[str]]:
    """Connected components, with those over ``limit`` split into communities.

    A community can itself be over the limit (modularity merges small groups
    in a large network), so splitting repeats on what is still too large until
    Louvain finds no further split; an investigator gets networks of a size
    that can be read, each as tight as the links allow.
    """
    groups: list[set[str]] = []
    pending = sorted((set(c) for c in nx.connected_components(graph)), key=min)
    while pending:
        group = pending.pop()
        if len(group) <= limit:
            groups.append(group)
            continue
        # Louvain (and a subgraph view of a few nodes) iterate sets of nodes, and
        # string hashes differ from process to process (PYTHONHASHSEED): it runs
        # on a copy numbered in sorted order, edges added in sorted order.
        nodes = sorted(group)
        number = {node: i for i, node in enumerate(nodes)}
        numbered = nx.Graph()
        numbered.add_nodes_from(range(len(nodes)))
        numbered.add_edges_from(
            sorted(
                tuple(sorted((number[a], number[b])))
                for a, b in graph.edges(nodes)
                if a in number and b in number  # within the group
            )
        )
        communities = nx.community.louvain_communities(numbered, seed=0)
        if len(communities) < 2:
            groups.append(group)  # no community structure left to split along
            continue
        pending.extend(sorted(({nodes[i] for i in c} for c in communities), key=min))
    return groups


def _instance_links(evidence: pl.DataFrame) -> list[tuple[str, str]]:
    """Star edges joining the alerted members of each pattern instance."""
    stars = (
        evidence.filter(pl.col(S.EV_INSTANCE).is_not_null())
        .group_by(S.EV_INSTANCE)
        .agg(pl.col(S.EV_ACCOUNT).unique().sort())
        .filter(pl.col(S.EV_ACCOUNT).list.len() > 1)
        .select(
            pl.col(S.EV_ACCOUNT).list.first().alias("a"),
            pl.col(S.EV_ACCOUNT).list.slice(1).alias("b"),
        )
        .explode("b")
    )
    return list(stars.iter_rows())


def _supporting_flow_links(
    evidence: pl.DataFrame, transactions: pl.LazyFrame, alerted: pl.DataFrame
) -> list[tuple[str, str]]:
    """Edges for transactions between two alerted accounts that support the
    evidence of the sender or of the receiver.

    A pattern's evidence lists the whole instance's transactions on every
    member; a transfer between two other parties that happens to be among them
    says nothing about how those two are linked (the instance links its own
    members already)."""
    supporting = (
        evidence.lazy()
        .select(S.EV_ACCOUNT, pl.col(S.EV_TXN_IDS).alias(S.TXN_ID))
        .explode(S.TXN_ID)
        .drop_nulls()
        .unique()
    )
    ids = alerted.lazy().select(pl.col(S.SC_ACCOUNT))
    flows = (
        transactions.select(S.TXN_ID, S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .join(ids, left_on=S.FROM_ACCOUNT, right_on=S.SC_ACCOUNT, how="semi")
        .join(ids, left_on=S.TO_ACCOUNT, right_on=S.SC_ACCOUNT, how="semi")
        .filter(pl.col(S.FROM_ACCOUNT) != pl.col(S.TO_ACCOUNT))
        .join(supporting, on=S.TXN_ID, how="inner")
        .filter(
            (pl.col(S.EV_ACCOUNT) == pl.col(S.FROM_ACCOUNT))
            | (pl.col(S.EV_ACCOUNT) == pl.col(S.TO_ACCOUNT))
        )
        .select(S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .unique()
        .collect()
    )
    return list(flows.iter_rows())


def _shared_identifiers(
    accounts: pl.DataFrame | None, alerted: pl.DataFrame
) -> list[dict[str, Any]]:
    """Identifier values held by two or more alerted accounts."""
    if accounts is None:
        return []
    kinds = [c for c in S.SHARED_IDENTIFIER_COLUMNS if c in accounts.columns]
    if not kinds:
        return []
    rows = accounts.join(alerted, left_on=S.ACCOUNT_ID, right_on=S.SC_ACCOUNT, how="semi")
    long = (
        rows.select(S.ACCOUNT_ID, *kinds)
        .unpivot(index=S.ACCOUNT_ID, on=kinds, variable_name="kind", value_name="value")
        .filter(pl.col("value").is_not_null() & (pl.col("value").str.strip_chars() != ""))
        .group_by("kind", "value")
        .agg(pl.col(S.ACCOUNT_ID).unique().sort().alias("accounts"))
        .filter(pl.col("accounts").list.len() > 1)
        .sort("kind", "value")
    )
    return long.to_dicts()


def _describe(
    case_of: pl.DataFrame,
    alerts: pl.DataFrame,
    evidence: pl.DataFrame,
    transactions: pl.LazyFrame,
    shared: list[dict[str, Any]],
    settings: dict[str, Any],
    levels: dict[str, float],
) -> Iterator[dict[str, Any]]:
    """Totals, window, links, codes and score of every case: computed here, each
    case's dict made when the returned iterator reaches it."""
    members = case_of.join(alerts, on=S.SC_ACCOUNT, how="left")
    side = case_of.lazy()

    # The case's transactions: flows among its accounts or with cash, plus
    # every transaction that supports a member's evidence.
    txns = transactions.select(
        S.TXN_ID, S.TIMESTAMP, S.AMOUNT, S.CURRENCY, S.FROM_ACCOUNT, S.TO_ACCOUNT
    )
    from_case = side.rename({S.SC_ACCOUNT: S.FROM_ACCOUNT, S.SC_CASE: "_from_case"})
    to_case = side.rename({S.SC_ACCOUNT: S.TO_ACCOUNT, S.SC_CASE: "_to_case"})
    # Only transactions touching a case account can be a case's own: the filter
    # reaches the file scan, so the joins never hold the whole export (1.3 GB at
    # 20 M rows).
    ids = case_of.get_column(S.SC_ACCOUNT).implode()
    touching = txns.filter(pl.col(S.FROM_ACCOUNT).is_in(ids) | pl.col(S.TO_ACCOUNT).is_in(ids))
    tagged = touching.join(from_case, on=S.FROM_ACCOUNT, how="left").join(
        to_case, on=S.TO_ACCOUNT, how="left"
    )
    internal = tagged.filter(
        (pl.col("_from_case") == pl.col("_to_case"))
        | (pl.col("_from_case").is_not_null() & (pl.col(S.TO_ACCOUNT) == S.CASH_NODE))
        | (pl.col("_to_case").is_not_null() & (pl.col(S.FROM_ACCOUNT) == S.CASH_NODE))
    ).select(
        pl.coalesce("_from_case", "_to_case").alias(S.SC_CASE),
        S.TXN_ID,
    )
    supporting = (
        evidence.lazy()
        .join(side, left_on=S.EV_ACCOUNT, right_on=S.SC_ACCOUNT)
        .select(S.SC_CASE, pl.col(S.EV_TXN_IDS).alias(S.TXN_ID))
        .explode(S.TXN_ID)
        .drop_nulls()
    )
    pairs = pl.concat([internal, supporting]).unique().collect()
    wanted = pairs.get_column(S.TXN_ID).unique().implode()
    case_txns = (
        pairs.lazy()
        .join(txns.filter(pl.col(S.TXN_ID).is_in(wanted)), on=S.TXN_ID, how="inner")
        .sort(S.SC_CASE, S.TIMESTAMP, S.TXN_ID)
    )
    totals_q = case_txns.group_by(S.SC_CASE).agg(
        pl.col(S.AMOUNT).sum().alias("total_value"),
        pl.col(S.CURRENCY).drop_nulls().mode().first().alias("currency"),
        pl.col(S.TIMESTAMP).min().alias("window_start"),
        pl.col(S.TIMESTAMP).max().alias("window_end"),
        pl.col(S.TXN_ID).head(settings["max_case_txns"]).alias("txn_ids"),
    )
    links_q = (
        case_txns.group_by(S.SC_CASE, S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .agg(
            pl.len().alias("n"),
            # to the cent, as written: a float sum's last bits follow the order its
            # parts were added in, which must not reorder links of equal value
            pl.col(S.AMOUNT).sum().round(2).alias("total"),
            pl.col(S.TIMESTAMP).min().alias("first"),
            pl.col(S.TIMESTAMP).max().alias("last"),
        )
        .sort(
            S.SC_CASE, "total", S.FROM_ACCOUNT, S.TO_ACCOUNT,
            descending=[False, True, False, False],
        )
    )
    codes_q = (
        evidence.lazy()
        .join(side, left_on=S.EV_ACCOUNT, right_on=S.SC_ACCOUNT)
        .group_by(S.SC_CASE)
        .agg(
            pl.col(S.EV_CODE).unique().sort().alias("codes"),
            pl.col(S.EV_CODE)
            .filter(pl.col(S.EV_DETECTOR) == "pattern")
            .unique()
            .sort()
            .alias("typologies"),
        )
    )
    member_codes_q = (
        evidence.lazy()
        .group_by(S.EV_ACCOUNT)
        .agg(pl.col(S.EV_CODE).unique().sort().alias("_codes"))
        .rename({S.EV_ACCOUNT: S.SC_ACCOUNT})
    )
    totals, links, codes, member_codes = pl.collect_all(
        [totals_q, links_q, codes_q, member_codes_q]
    )

    # A case is as urgent as its riskiest account, discounted by how much of it
    # is weak: the geometric mean of the top member's risk and the members' mean
    # risk. Every account of a case is read, so a large group around one strong
    # account (a hub and the busy accounts its transfers touch) must not outrank
    # a tight network of strong ones, as a score growing with each member did.
    scored = (
        members.group_by(S.SC_CASE)
        .agg(
            (pl.col(S.SC_RISK).max() * pl.col(S.SC_RISK).mean()).sqrt().round(6).alias("score"),
            pl.len().alias("n_accounts"),
        )
        .with_columns(level_expr(pl.col("score"), levels).alias("level"))
        .join(totals, on=S.SC_CASE, how="left")
        .join(codes, on=S.SC_CASE, how="left")
    )
    member_rows = members.drop(S.SC_CODES).join(member_codes, on=S.SC_ACCOUNT, how="left").select(
        S.SC_CASE,
        S.SC_ACCOUNT,
        S.SC_RISK,
        S.SC_RANK,
        S.SC_LEVEL,
        pl.col(S.SC_ROLE).fill_null(""),
        pl.col("_codes").fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("codes"),
    )
    by_case_members = member_rows.partition_by(S.SC_CASE, as_dict=True, include_key=False)
    by_case_links = links.partition_by(S.SC_CASE, as_dict=True, include_key=False)
    identifier_cases = _identifier_cases(shared, case_of)

    order = scored.sort(["score", S.SC_CASE], descending=[True, False])
    return _case_dicts(order, by_case_members, by_case_links, identifier_cases)


def _case_dicts(
    scored: pl.DataFrame,
    by_case_members: dict[tuple, pl.DataFrame],
    by_case_links: dict[tuple, pl.DataFrame],
    identifier_cases: dict[str, list[dict[str, Any]]],
) -> Iterator[dict[str, Any]]:
    for row in scored.iter_rows(named=True):
        case_id = row[S.SC_CASE]
        link_rows = by_case_links.get((case_id,))
        accounts = by_case_members[(case_id,)].to_dicts()
        case = {
            "case_id": case_id,
            "score": row["score"],
            "level": row["level"],
            "summary": "",
            "accounts": accounts,
            "n_accounts": row["n_accounts"],
            "total_value": round(float(row["total_value"] or 0.0), 2),
            "currency": row["currency"],
            "window_start": _iso(row["window_start"]),
            "window_end": _iso(row["window_end"]),
            "codes": row["codes"] or [],
            "typologies": row["typologies"] or [],
            "links": [
                {
                    "from": link[S.FROM_ACCOUNT],
                    "to": link[S.TO_ACCOUNT],
                    "n": link["n"],
                    "total": round(float(link["total"]), 2),
                    "first": _iso(link["first"]),
                    "last": _iso(link["last"]),
                }
                for link in (link_rows.to_dicts() if link_rows is not None else [])
            ],
            "shared_identifiers": identifier_cases.get(case_id, []),
            "txn_ids": row["txn_ids"] or [],
        }
        case["summary"] = _summary(case)
        yield case


def _identifier_cases(
    shared: list[dict[str, Any]], case_of: pl.DataFrame
) -> dict[str, list[dict[str, Any]]]:
    lookup = dict(zip(case_of[S.SC_ACCOUNT].to_list(), case_of[S.SC_CASE].to_list(), strict=True))
    out: dict[str, list[dict[str, Any]]] = {}
    for item in shared:
        out.setdefault(lookup[item["accounts"][0]], []).append(item)
    return out


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(case: dict[str, Any]) -> str:
    n = case["n_accounts"]
    who = "1 account" if n == 1 else f"{n} accounts"
    roles = sorted({a[S.SC_ROLE] for a in case["accounts"] if a[S.SC_ROLE]})
    what = ", ".join(case["typologies"] or case["codes"][:4]) or "no pattern"
    text = (
        f"{who} moving {case['total_value']:,.2f} {case['currency'] or ''}".rstrip()
        + f" between {(case['window_start'] or '?')[:10]} and {(case['window_end'] or '?')[:10]}"
        + f"; evidence: {what}"
    )
    if roles:
        text += f"; roles: {', '.join(roles)}"
    return text + "."
