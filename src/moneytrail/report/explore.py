"""`moneytrail explore`: the k-hop neighbourhood of one account as an offline page.

What an investigator asks for after the first alert: who paid this account,
whom it paid, and who those were, by value. The neighbourhood is found with
polars over the scan's transactions (``moneytrail.graph`` hop by hop, capped
at ``max_nodes``); networkx only ever holds that small graph.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.report import pictures
from moneytrail.report.casedata import (
    ISO,
    NodeLookups,
    assemble,
    evidence_rows,
    focus,
    select_txn_fields,
)
from moneytrail.report.html import (
    MAX_CASE_EVIDENCE,
    MAX_CASE_TXNS,
    MAX_CHART_NODES,
    case_view,
    render_page,
)
from moneytrail.report.scan_output import load_scan

DEFAULT_MAX_NODES = 150


def explore(
    outdir: Path,
    account: str,
    hops: int = 2,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    out: Path | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Path:
    """Write the neighbourhood page of ``account`` to ``out`` and return its path."""
    if out is None:
        raise InputError("explore needs an output file", hint="pass -o FILE.html")
    if hops < 1:
        raise InputError(f"--hops must be at least 1, got {hops}")
    since_dt, until_dt = _moment(since, "--since"), _moment(until, "--until", end=True)
    if since_dt and until_dt and since_dt > until_dt:
        raise InputError(f"--since {since_dt} is after --until {until_dt}")
    scan = load_scan(outdir)
    account = str(account)
    seen = (
        scan.transactions.filter(
            (pl.col(S.FROM_ACCOUNT) == account) | (pl.col(S.TO_ACCOUNT) == account)
        )
        .select(pl.len())
        .collect()
        .item()
    )
    if not seen:
        raise InputError(
            f"account {account!r} has no transactions in this scan",
            file=str(Path(outdir) / S.TRANSACTIONS_FILE),
            column=S.FROM_ACCOUNT,
            hint="account ids are matched exactly; see scores.csv for the scanned accounts",
        )
    graph = _neighbourhood(scan.transactions, account, hops, since_dt, until_dt, max_nodes)
    node_ids = list(graph.nodes)
    edges = []
    txn_ids: list[str] = []
    for src, dst, attrs in graph.edges(data=True):
        edges.append(
            {
                "from": src, "to": dst, "n": int(attrs.get("n") or 0),
                "total": float(attrs.get("total") or 0.0),
                "first": _iso(attrs.get("first")), "last": _iso(attrs.get("last")),
            }
        )
        txn_ids.extend(str(t) for t in attrs.get("txn_ids") or [])
    txns, n_txns = _transactions(scan.transactions, txn_ids)
    lookups = NodeLookups.build(scan, set(node_ids))
    catalogue = scan.rule_catalogue()
    evidence = evidence_rows(scan, dict.fromkeys(node_ids, "explore"), MAX_CASE_EVIDENCE,
                             catalogue)
    total = sum(e["total"] for e in edges)
    stamps = [t[S.TIMESTAMP] for t in txns if t.get(S.TIMESTAMP)]
    header: dict[str, Any] = {
        "case_id": None,
        "score": None,
        "level": None,
        "summary": f"{len(node_ids)} accounts within {hops} hop(s) of {account}; "
                   f"{n_txns:,} transactions among them worth {total:,.2f}",
        "n_accounts": len(node_ids),
        "total_value": total,
        "currency": _currency(txns),
        "window_start": min(stamps) if stamps else None,
        "window_end": max(stamps) if stamps else None,
        "accounts": [],
    }
    # the seed first, then by hop: the order the timeline lanes follow
    ordered = sorted(node_ids, key=lambda n: (graph.nodes[n].get("hop", 99), n))
    bundle = assemble(header, ordered, edges, txns, n_txns,
                      evidence.get("explore", ([], 0)), lookups)
    bundle["codes"] = sorted({e["code"] for e in bundle["evidence"]})
    bundle = focus(bundle, MAX_CHART_NODES)
    out = Path(out)
    picture = pictures.case_network(bundle, out.with_name(out.stem + "_network.png"))
    view = case_view(bundle, picture.name)
    context = {
        "title": f"moneytrail: neighbourhood of {account}",
        "account": account,
        "hops": hops,
        "since": since_dt.isoformat() if since_dt else None,
        "until": until_dt.isoformat() if until_dt else None,
        "scan_dir": str(outdir),
        "truncated": len(node_ids) >= max_nodes,
        "max_nodes": max_nodes,
        "cases": [view],
        "max_case_txns": MAX_CASE_TXNS,
        "max_case_evidence": MAX_CASE_EVIDENCE,
        "data": {"cases": {view["anchor"]: view["chart"]}},
    }
    return render_page("explore.html.j2", context, out)


def _neighbourhood(transactions, account, hops, since, until, max_nodes):
    from moneytrail.graph.subgraph import neighbourhood

    return neighbourhood(transactions, [account], hops=hops, since=since, until=until,
                         max_nodes=max_nodes)


def _transactions(lf: pl.LazyFrame, txn_ids: list[str]) -> tuple[list[dict[str, Any]], int]:
    if not txn_ids:
        return [], 0
    ids = pl.Series("_ids", txn_ids, dtype=pl.String).implode()
    frame = (
        lf.filter(pl.col(S.TXN_ID).is_in(ids))
        .sort(S.AMOUNT, descending=True)
        .head(MAX_CASE_TXNS)
        .sort(S.TIMESTAMP, S.TXN_ID)
        .select(select_txn_fields(lf))
        .collect()
    )
    return frame.to_dicts(), len(set(txn_ids))


def _currency(txns: list[dict[str, Any]]) -> str:
    found = {t.get(S.CURRENCY) for t in txns if t.get(S.CURRENCY)}
    return found.pop() if len(found) == 1 else ""


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.strftime(ISO) if hasattr(value, "strftime") else str(value)


def _moment(value: Any, option: str, end: bool = False) -> datetime | None:
    """A --since/--until value; a bare date means the whole day."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.max.time() if end else datetime.min.time())
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not a date or time",
            hint="use ISO form: 2024-03-01 or 2024-03-01T18:00",
        ) from None
    if end and len(text) == 10:
        parsed = datetime.combine(parsed.date(), datetime.max.time())
    return parsed
