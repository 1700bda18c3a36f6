"""networkx views of small candidate subgraphs (report drawings, case building).

The neighbourhood is found with polars joins over the whole table, hop by hop,
and only the edges among the chosen accounts are turned into a networkx graph.
"""

from __future__ import annotations

from datetime import datetime

import networkx as nx
import polars as pl

from moneytrail import schema as S

EDGE_N = "n"
EDGE_TOTAL = "total"
EDGE_TXNS = "txn_ids"
EDGE_FIRST = "first"
EDGE_LAST = "last"


def _in_period(lf: pl.LazyFrame, since: datetime | None, until: datetime | None) -> pl.LazyFrame:
    if since is not None:
        lf = lf.filter(pl.col(S.TIMESTAMP) >= since)
    if until is not None:
        lf = lf.filter(pl.col(S.TIMESTAMP) <= until)
    return lf


def neighbourhood(
    transactions: pl.LazyFrame,
    seeds: list[str],
    hops: int = 2,
    since: datetime | None = None,
    until: datetime | None = None,
    max_nodes: int = 200,
) -> nx.DiGraph:
    """The accounts within ``hops`` transfers of ``seeds`` (either direction).

    Returns a DiGraph with one edge per (from, to) pair carrying ``n``
    (transactions), ``total`` (amount), ``txn_ids``, ``first`` and ``last``
    (timestamps). Each node has ``hop`` (0 for seeds) and ``seed`` (bool).
    When the neighbourhood grows past ``max_nodes`` the next ring is cut to
    the counterparties that exchanged the most money with what is already in,
    so a payroll or exchange account cannot pull in the whole bank.
    The cash node is kept as a node (withdrawals matter in a drawing) but is
    never expanded through.
    """
    lf = _in_period(transactions, since, until).select(
        S.FROM_ACCOUNT,
        S.TO_ACCOUNT,
        S.AMOUNT,
        S.TIMESTAMP,
        *([S.TXN_ID] if S.TXN_ID in transactions.collect_schema().names() else []),
    )
    has_txn = S.TXN_ID in lf.collect_schema().names()
    hop_of: dict[str, int] = {str(s): 0 for s in seeds}
    frontier = [s for s in hop_of if s != S.CASH_NODE]
    for hop in range(1, hops + 1):
        if not frontier or len(hop_of) >= max_nodes:
            break
        front = pl.Series("_node", frontier, dtype=pl.String).implode()
        ring = (
            pl.concat(
                [
                    lf.filter(pl.col(S.FROM_ACCOUNT).is_in(front)).select(
                        pl.col(S.TO_ACCOUNT).alias("_node"), S.AMOUNT
                    ),
                    lf.filter(pl.col(S.TO_ACCOUNT).is_in(front)).select(
                        pl.col(S.FROM_ACCOUNT).alias("_node"), S.AMOUNT
                    ),
                ]
            )
            .group_by("_node")
            .agg(pl.col(S.AMOUNT).sum().alias("_flow"))
            .sort(["_flow", "_node"], descending=[True, False])
            .collect()
        )
        new = [n for n in ring.get_column("_node").to_list() if n not in hop_of]
        new = new[: max(0, max_nodes - len(hop_of))]
        for node in new:
            hop_of[node] = hop
        frontier = [n for n in new if n != S.CASH_NODE]
    nodes = pl.Series("_node", list(hop_of), dtype=pl.String).implode()
    aggs = [
        pl.len().alias(EDGE_N),
        pl.col(S.AMOUNT).sum().alias(EDGE_TOTAL),
        pl.col(S.TIMESTAMP).min().alias(EDGE_FIRST),
        pl.col(S.TIMESTAMP).max().alias(EDGE_LAST),
    ]
    if has_txn:
        aggs.append(pl.col(S.TXN_ID).alias(EDGE_TXNS))
    pairs = (
        lf.filter(pl.col(S.FROM_ACCOUNT).is_in(nodes) & pl.col(S.TO_ACCOUNT).is_in(nodes))
        .group_by(S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .agg(aggs)
        .collect()
    )
    graph = nx.DiGraph()
    seed_set = set(seeds)
    for node, hop in hop_of.items():
        graph.add_node(node, hop=hop, seed=node in seed_set)
    for row in pairs.iter_rows(named=True):
        attrs = {
            EDGE_N: row[EDGE_N],
            EDGE_TOTAL: row[EDGE_TOTAL],
            EDGE_FIRST: row[EDGE_FIRST],
            EDGE_LAST: row[EDGE_LAST],
            EDGE_TXNS: row.get(EDGE_TXNS) or [],
        }
        graph.add_edge(row[S.FROM_ACCOUNT], row[S.TO_ACCOUNT], **attrs)
    return graph
