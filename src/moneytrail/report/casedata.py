"""Case bundles: everything the report, explore and the exports show of one case.

A bundle is a JSON-ready dict: the case header from cases.json, its nodes
(accounts with risk, role and holder), edges (money flows per pair), the
case's transactions (capped, largest first, then in time order) and the
evidence about its members with rule titles and references. All cases of a
report are built with a few polars queries over the whole OUTDIR, never one
query per case.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.report.scan_output import ScanOutput

# Internal column names of this module's frames (not canonical data columns).
_CASE = "_case"
_RANK_IN_CASE = "_rank_in_case"
_N_IN_CASE = "_n_in_case"

# Transaction columns a bundle carries, and their short names in the bundle.
TXN_FIELDS: dict[str, str] = {
    S.TXN_ID: "txn_id",
    S.TIMESTAMP: "timestamp",
    S.AMOUNT: "amount",
    S.CURRENCY: "currency",
    S.FROM_ACCOUNT: "from",
    S.TO_ACCOUNT: "to",
    S.CHANNEL: "channel",
    S.MCC: "mcc",
    S.MERCHANT: "merchant",
    S.MEMO: "memo",
    S.LOCATION_CITY: "city",
    S.LOCATION_COUNTRY: "country",
    S.FROM_COUNTRY: "from_country",
    S.TO_COUNTRY: "to_country",
    S.FROM_BANK: "from_bank",
    S.TO_BANK: "to_bank",
}
_STRING_TXN_FIELDS = {S.CURRENCY, S.MERCHANT, S.MEMO, S.LOCATION_CITY, S.LOCATION_COUNTRY,
                      S.FROM_COUNTRY, S.TO_COUNTRY, S.FROM_BANK, S.TO_BANK}
ISO = "%Y-%m-%dT%H:%M:%S"


def select_txn_fields(lf: pl.LazyFrame) -> list[pl.Expr]:
    """Expressions giving the bundle's transaction fields, null where absent."""
    names = set(lf.collect_schema().names())
    exprs = []
    for column, short in TXN_FIELDS.items():
        if column not in names:
            exprs.append(pl.lit(None, pl.String).alias(short))
        elif column == S.TIMESTAMP:
            exprs.append(pl.col(column).dt.strftime(ISO).alias(short))
        elif column in (S.CHANNEL, *_STRING_TXN_FIELDS):
            exprs.append(pl.col(column).cast(pl.String).alias(short))
        else:
            exprs.append(pl.col(column).alias(short))
    return exprs


def case_bundles(
    scan: ScanOutput,
    cases: list[dict[str, Any]],
    max_txns: int = 400,
    max_evidence: int = 300,
    catalogue: dict[str, Any] | None = None,
    max_nodes: int | None = None,
) -> list[dict[str, Any]]:
    """Full bundles of ``cases`` (in the given order).

    With ``max_nodes`` each bundle comes cut as :func:`focus` would cut it,
    without looking up the counterparties the cut drops (the biggest cases
    of a bank-scale scan have tens of thousands).
    """
    if not cases:
        return []
    catalogue = catalogue if catalogue is not None else scan.rule_catalogue()
    members = {c["case_id"]: [str(a.get("account_id")) for a in c.get("accounts") or []]
               for c in cases}
    txns, n_txns = _case_transactions(scan, cases, members, max_txns)
    all_txns = _case_edges_from_transactions(scan, cases, members)
    txns_by_case = _partition(txns)
    edges_by_case = _partition(all_txns)
    edges: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        case_id = case["case_id"]
        links = case.get("links") or []
        if links:
            edges[case_id] = [_edge(link) for link in links]
        else:
            edges[case_id] = edges_by_case.get(case_id, [])
    member_ids = {a for accs in members.values() for a in accs}
    lookups = NodeLookups.build(scan, member_ids)
    keep: dict[str, set[str] | None] = {}
    others: set[str] = set()
    for case in cases:
        case_id = case["case_id"]
        counterparties = _counterparties(members[case_id], edges[case_id])
        if max_nodes is None:
            keep[case_id] = None
        else:
            case_accounts = {str(a.get("account_id")): a for a in case.get("accounts") or []}
            member_nodes = [make_node(a, True, lookups, case_accounts.get(a))
                            for a in members[case_id]]
            keep[case_id] = focus_keep(member_nodes, counterparties, edges[case_id], max_nodes)
        wanted = keep[case_id]
        others.update(end for end in counterparties if wanted is None or end in wanted)
    lookups.add(NodeLookups.build(scan, others - member_ids))
    evidence = evidence_rows(scan, {a: cid for cid, accs in members.items() for a in accs},
                             max_evidence, catalogue)
    bundles = []
    for case in cases:
        case_id = case["case_id"]
        case_txns = txns_by_case.get(case_id, [])
        bundle = assemble(
            header=case,
            member_ids=members[case_id],
            edges=edges[case_id],
            txns=case_txns,
            n_txns=n_txns.get(case_id, len(case_txns)),
            evidence=evidence.get(case_id, ([], 0)),
            lookups=lookups,
            keep=keep[case_id],
        )
        bundles.append(focus(bundle, max_nodes) if max_nodes is not None else bundle)
    return bundles


def _counterparties(member_ids: list[str], edges: list[dict[str, Any]]) -> list[str]:
    """Accounts at either end of the case's flows that are not members, first seen first."""
    seen = set(member_ids)
    out = []
    for edge in edges:
        for end in (edge["from"], edge["to"]):
            if end not in seen:
                seen.add(end)
                out.append(end)
    return out


def _case_transactions(
    scan: ScanOutput, cases: list[dict[str, Any]], members: dict[str, list[str]], max_txns: int
) -> tuple[pl.DataFrame, dict[str, int]]:
    """The case's transactions: the largest ``max_txns`` per case, in time order."""
    pairs = _txn_case_map(cases)
    if pairs.height == 0:
        return pl.DataFrame(schema={_CASE: pl.String}), {}
    lf = scan.transactions
    selected = (
        _with_case(lf, pairs)
        .with_columns(pl.len().over(_CASE).alias(_N_IN_CASE))
        # largest first, equal amounts by txn id: the same transactions whatever
        # order the rows arrive in
        .sort([_CASE, S.AMOUNT, S.TXN_ID], descending=[False, True, False], nulls_last=True)
        .with_columns(pl.int_range(1, pl.len() + 1).over(_CASE).alias(_RANK_IN_CASE))
        .filter((pl.col(_RANK_IN_CASE) <= max_txns) & pl.col(S.AMOUNT).is_not_null())
        .sort([_CASE, S.TIMESTAMP, S.TXN_ID])
        .select(pl.col(_CASE), pl.col(_N_IN_CASE), *select_txn_fields(lf))
        .collect()
    )
    counts = dict(
        selected.group_by(_CASE).agg(pl.col(_N_IN_CASE).first()).iter_rows()
    )
    return selected.drop(_N_IN_CASE), counts


def _case_edges_from_transactions(
    scan: ScanOutput, cases: list[dict[str, Any]], members: dict[str, list[str]]
) -> pl.DataFrame:
    """Money flows per pair for cases that came without ``links``."""
    need = [c for c in cases if not c.get("links")]
    pairs = _txn_case_map(need)
    if pairs.height == 0:
        return pl.DataFrame(schema={_CASE: pl.String})
    return (
        _with_case(scan.transactions, pairs)
        .group_by(_CASE, S.FROM_ACCOUNT, S.TO_ACCOUNT)
        .agg(
            pl.len().alias("n"),
            pl.col(S.AMOUNT).sum().alias("total"),
            pl.col(S.TIMESTAMP).min().dt.strftime(ISO).alias("first"),
            pl.col(S.TIMESTAMP).max().dt.strftime(ISO).alias("last"),
        )
        .rename({S.FROM_ACCOUNT: "from", S.TO_ACCOUNT: "to"})
        .sort([_CASE, "total"], descending=[False, True])
        .collect()
    )


def _with_case(transactions: pl.LazyFrame, pairs: pl.DataFrame) -> pl.LazyFrame:
    """The transactions listed in ``pairs``, one row per (case, transaction).

    A membership filter first: it runs during the Parquet read and keeps the
    join small (20 M rows: 2.5 -> 1.6 CPU s from Parquet, 1.3 -> 0.4 in memory).
    """
    wanted = pairs.get_column("_txn").unique().implode()
    return transactions.filter(pl.col(S.TXN_ID).is_in(wanted)).join(
        pairs.lazy(), left_on=S.TXN_ID, right_on="_txn", how="inner"
    )


def _txn_case_map(cases: list[dict[str, Any]]) -> pl.DataFrame:
    case_col: list[str] = []
    txn_col: list[str] = []
    for case in cases:
        ids = [str(t) for t in case.get("txn_ids") or []]
        case_col.extend([case["case_id"]] * len(ids))
        txn_col.extend(ids)
    return pl.DataFrame({_CASE: case_col, "_txn": txn_col}, schema={_CASE: pl.String,
                                                                    "_txn": pl.String})


def _partition(df: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    if df.height == 0 or _CASE not in df.columns:
        return {}
    return {
        key[0]: part.to_dicts()
        for key, part in df.partition_by(_CASE, as_dict=True, include_key=False).items()
    }


def _edge(link: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": str(link.get("from")),
        "to": str(link.get("to")),
        "n": int(link.get("n") or 0),
        "total": float(link.get("total") or 0.0),
        "first": link.get("first"),
        "last": link.get("last"),
    }


class NodeLookups:
    """Scores and holder details of a set of node ids, fetched in one query each."""

    def __init__(self, scores: dict[str, dict[str, Any]], holders: dict[str, dict[str, Any]]):
        self.scores = scores
        self.holders = holders

    @classmethod
    def build(cls, scan: ScanOutput, node_ids: set[str]) -> NodeLookups:
        if not node_ids:
            return cls({}, {})
        ids = pl.Series("_id", sorted(node_ids), dtype=pl.String).implode()
        scores = {
            row[S.SC_ACCOUNT]: row
            for row in scan.scores.filter(pl.col(S.SC_ACCOUNT).is_in(ids)).to_dicts()
        }
        holders: dict[str, dict[str, Any]] = {}
        if scan.accounts is not None:
            names = scan.accounts.collect_schema().names()
            wanted = [c for c in S.ACCOUNT_SCHEMA if c in names]
            rows = (
                scan.accounts.filter(pl.col(S.ACCOUNT_ID).cast(pl.String).is_in(ids))
                .select(wanted)
                .unique(S.ACCOUNT_ID, keep="first")
                .collect()
            )
            for row in rows.to_dicts():
                holders[str(row[S.ACCOUNT_ID])] = {
                    k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()
                }
        return cls(scores, holders)

    def add(self, other: NodeLookups) -> None:
        self.scores.update(other.scores)
        self.holders.update(other.holders)


def node_kind(node_id: str, holder: dict[str, Any] | None) -> str:
    if node_id == S.CASH_NODE:
        return "cash"
    return "account"


def make_node(node_id: str, member: bool, lookups: NodeLookups,
              case_account: dict[str, Any] | None = None) -> dict[str, Any]:
    score = lookups.scores.get(node_id) or {}
    holder = lookups.holders.get(node_id) or {}
    info = case_account or {}
    codes = info.get("codes")
    if codes is None:
        codes = [c for c in (score.get(S.SC_CODES) or "").split(";") if c]
    risk = info.get("risk_score", score.get(S.SC_RISK))
    return {
        "id": node_id,
        "label": holder.get(S.HOLDER_NAME) or node_id,
        "kind": node_kind(node_id, holder),
        "member": member,
        "role": info.get("role") or score.get(S.SC_ROLE) or "",
        "risk": float(risk) if risk is not None else None,
        "rank": info.get("rank", score.get(S.SC_RANK)),
        "level": info.get("level") or score.get(S.SC_LEVEL) or "none",
        "codes": list(codes),
        "holder": {k: v for k, v in holder.items() if v is not None and k != S.ACCOUNT_ID},
    }


def evidence_rows(
    scan: ScanOutput,
    case_of_account: dict[str, str],
    max_per_case: int,
    catalogue: dict[str, Any],
) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """Evidence about case members, strongest first: case id → (rows, total count)."""
    if not case_of_account:
        return {}
    mapping = pl.DataFrame(
        {"_acct": list(case_of_account), _CASE: list(case_of_account.values())},
        schema={"_acct": pl.String, _CASE: pl.String},
    )
    lf = scan.evidence
    names = set(lf.collect_schema().names())
    lf = lf.with_columns(
        [pl.lit(None, dtype).alias(name) for name, dtype in S.EVIDENCE_SCHEMA.items()
         if name not in names]
    )
    frame = (
        lf.join(mapping.lazy(), left_on=S.EV_ACCOUNT, right_on="_acct", how="inner")
        .with_columns(pl.len().over(_CASE).alias(_N_IN_CASE))
        # strongest first; the rest of the key only makes ties come out the same every time
        .sort([_CASE, S.EV_SCORE, S.EV_ACCOUNT, S.EV_CODE, S.EV_WINDOW_START, S.EV_WINDOW_END,
               S.EV_DETECTOR, S.EV_REASON],
              descending=[False, True, False, False, False, False, False, False],
              nulls_last=True, maintain_order=True)
        .group_by(_CASE, maintain_order=True)
        .head(max_per_case)
        .select(
            pl.col(_CASE),
            pl.col(_N_IN_CASE),
            pl.col(S.EV_ACCOUNT).alias("account"),
            pl.col(S.EV_DETECTOR).alias("detector"),
            pl.col(S.EV_CODE).alias("code"),
            pl.col(S.EV_SCORE).cast(pl.Float64).alias("score"),
            pl.col(S.EV_SEVERITY).alias("severity"),
            pl.col(S.EV_WINDOW_START).dt.strftime(ISO).alias("window_start"),
            pl.col(S.EV_WINDOW_END).dt.strftime(ISO).alias("window_end"),
            pl.col(S.EV_TXN_IDS).alias("txn_ids"),
            pl.col(S.EV_REASON).alias("reason"),
            pl.col(S.EV_INSTANCE).alias("instance"),
            pl.col(S.EV_ROLE).alias("role"),
        )
        .collect()
    )
    out: dict[str, tuple[list[dict[str, Any]], int]] = {}
    for key, part in frame.partition_by(_CASE, as_dict=True, include_key=False).items():
        total = int(part[_N_IN_CASE][0])
        rows = [decorate_evidence(r, catalogue) for r in part.drop(_N_IN_CASE).to_dicts()]
        out[key[0]] = (rows, total)
    return out


# Supporting txn ids listed per piece of evidence; the rest is counted.
MAX_EVIDENCE_TXN_IDS = 25


def decorate_evidence(row: dict[str, Any], catalogue: dict[str, Any]) -> dict[str, Any]:
    """Add the rule's title and references; cap the supporting txn id list."""
    ids = row.get("txn_ids") or []
    row["n_txn_ids"] = len(ids)
    row["txn_ids"] = [str(t) for t in ids[:MAX_EVIDENCE_TXN_IDS]]
    rule = catalogue.get(row.get("code"))
    row["title"] = getattr(rule, "title", None) if rule is not None else None
    row["references"] = [_reference_text(r) for r in getattr(rule, "references", None) or []]
    row["typology_tags"] = list(getattr(rule, "tags", None) or [])
    return row


def _reference_text(ref: Any) -> str:
    if isinstance(ref, dict):
        parts = [str(ref.get("doc") or ""), str(ref.get("section") or "")]
        text = ", ".join(p for p in parts if p)
        if ref.get("title"):
            text += f" ({ref['title']})"
        return text
    return str(ref)


def assemble(
    header: dict[str, Any],
    member_ids: list[str],
    edges: list[dict[str, Any]],
    txns: list[dict[str, Any]],
    n_txns: int,
    evidence: tuple[list[dict[str, Any]], int],
    lookups: NodeLookups,
    keep: set[str] | None = None,
) -> dict[str, Any]:
    """One bundle from its parts (shared by the report, explore and exports).

    ``keep`` (from :func:`focus_keep`) leaves out the other accounts and the
    flows not among the kept ones, and records the full counts as
    :func:`focus` does.
    """
    case_accounts = {str(a.get("account_id")): a for a in header.get("accounts") or []}
    nodes = [make_node(a, True, lookups, case_accounts.get(a)) for a in member_ids]
    counterparties = _counterparties(member_ids, edges)
    n_nodes = len(nodes) + len(counterparties)
    nodes.extend(make_node(end, False, lookups) for end in counterparties
                 if keep is None or end in keep)
    evidence_list, n_evidence = evidence
    bundle = {
        key: header.get(key)
        for key in ("case_id", "score", "level", "summary", "n_accounts", "total_value",
                    "currency", "window_start", "window_end")
    }
    heaviest = sorted(edges, key=lambda e: -e["total"])
    bundle.update(
        codes=list(header.get("codes") or []),
        typologies=list(header.get("typologies") or []),
        shared_identifiers=list(header.get("shared_identifiers") or []),
        nodes=nodes,
        edges=heaviest,
        txns=txns,
        n_txns=int(n_txns),
        evidence=evidence_list,
        n_evidence=int(n_evidence),
    )
    if keep is not None:
        bundle.update(
            nodes=[n for n in nodes if n["id"] in keep],
            edges=[e for e in heaviest if e["from"] in keep and e["to"] in keep],
            n_nodes_total=n_nodes,
            n_edges_total=len(edges),
        )
    if bundle.get("n_accounts") is None:
        bundle["n_accounts"] = len(member_ids)
    if bundle.get("total_value") is None:
        bundle["total_value"] = float(sum(e["total"] for e in edges))
    return bundle


def focus(bundle: dict[str, Any], max_nodes: int, max_edges: int | None = None) -> dict[str, Any]:
    """The bundle cut to what a chart can show: the riskiest members, then the
    counterparties of the heaviest flows, and the flows among those.

    ``n_nodes_total`` / ``n_edges_total`` keep the full counts for the page to
    state (a bundle cut already by :func:`assemble` keeps its own).
    """
    nodes, edges = bundle["nodes"], bundle["edges"]
    max_edges = max_edges or max_nodes * 4
    out = {
        **bundle,
        "n_nodes_total": bundle.get("n_nodes_total", len(nodes)),
        "n_edges_total": bundle.get("n_edges_total", len(edges)),
    }
    if len(nodes) <= max_nodes and len(edges) <= max_edges:
        return out
    members = [n for n in nodes if n["member"]]
    keep = focus_keep(members, [n["id"] for n in nodes if not n["member"]], edges, max_nodes,
                      max_edges) or {n["id"] for n in nodes}
    heaviest = sorted(edges, key=lambda e: -e["total"])
    out["nodes"] = [n for n in nodes if n["id"] in keep]
    out["edges"] = [e for e in heaviest if e["from"] in keep and e["to"] in keep][:max_edges]
    return out


def focus_keep(
    member_nodes: list[dict[str, Any]],
    counterparties: list[str],
    edges: list[dict[str, Any]],
    max_nodes: int,
    max_edges: int | None = None,
) -> set[str] | None:
    """Ids of the accounts :func:`focus` keeps, or None when it keeps them all.

    Only the members' nodes are needed: the counterparties count, but their
    details play no part in the choice.
    """
    max_edges = max_edges or max_nodes * 4
    if len(member_nodes) + len(counterparties) <= max_nodes and len(edges) <= max_edges:
        return None
    members = sorted(member_nodes,
                     key=lambda n: (-(n["risk"] or 0.0), n["rank"] or 10**12, n["id"]))
    keep = {n["id"] for n in members[: max(1, (max_nodes * 3) // 4)]}
    for edge in sorted(edges, key=lambda e: -e["total"]):
        if len(keep) >= max_nodes:
            break
        if edge["from"] in keep or edge["to"] in keep:
            keep.update((edge["from"], edge["to"]))
    return keep
