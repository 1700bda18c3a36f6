"""i2 Analyst's Notebook import files: entities.csv and links.csv.

One entity per account (and per cash or merchant node), one link per
transaction (directed payer → payee, dated, with amount), so the chart can be
drawn both as an association chart and as a timeline. An import
specification maps the columns once: entity_type picks the icon, link_type
the link, date/time the timeline position.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from moneytrail import schema as S
from moneytrail.report.exports._common import (
    is_victim,
    node_name,
    output_folder,
    safe_cell,
    victim_accounts,
)

ENTITY_COLUMNS = ("entity_id", "entity_type", "label", "holder_name", "holder_type", "role",
                  "suspected_victim", "risk_score", "level", "codes", "case_ids", "in_case")
LINK_COLUMNS = ("link_id", "from_entity_id", "to_entity_id", "link_type", "direction",
                "txn_id", "date", "time", "amount", "currency", "channel", "merchant", "memo",
                "place", "case_id")


def _entity_type(node) -> str:
    if node["kind"] == "cash":
        return "Cash"
    holder = (node.get("holder") or {}).get("holder_type")
    return "Business Account" if holder == "business" else "Account"


def write(scan, bundles, out: Path, fmt: str = "i2", profile=None) -> list[Path]:
    folder = output_folder(out)
    entities: dict[str, dict] = {}
    links: list[dict] = []
    for bundle in bundles:
        case_id = str(bundle.get("case_id") or "")
        victims = victim_accounts(bundle["evidence"])
        for node in bundle["nodes"]:
            row = entities.get(node["id"])
            if row is None:
                holder = node.get("holder") or {}
                row = entities[node["id"]] = {
                    "entity_id": node["id"],
                    "entity_type": _entity_type(node),
                    "label": safe_cell(node_name(node)),
                    "holder_name": safe_cell(holder.get("holder_name") or ""),
                    "holder_type": holder.get("holder_type") or "",
                    "role": node.get("role") or "",
                    "suspected_victim": "yes" if is_victim(node, victims) else "",
                    "risk_score": node.get("risk"),
                    "level": node.get("level") or "",
                    "codes": ";".join(node.get("codes") or []),
                    "case_ids": [],
                    "in_case": "no",
                }
            row["case_ids"].append(case_id)
            if node["member"]:
                row["in_case"] = "yes"
        for t in bundle["txns"]:
            stamp = str(t.get(S.TIMESTAMP) or "")
            links.append({
                "link_id": f"{case_id}:{t['txn_id']}",
                "from_entity_id": t["from"],
                "to_entity_id": t["to"],
                "link_type": "Transaction",
                "direction": "from->to",
                "txn_id": t[S.TXN_ID],
                "date": stamp[:10],
                "time": stamp[11:19],
                "amount": t.get(S.AMOUNT),
                "currency": t.get(S.CURRENCY) or bundle.get("currency") or "",
                "channel": t.get(S.CHANNEL) or "",
                "merchant": safe_cell(t.get(S.MERCHANT) or ""),
                "memo": safe_cell(t.get(S.MEMO) or ""),
                "place": safe_cell(" ".join(x for x in (t.get("city"), t.get("country")) if x)),
                "case_id": case_id,
            })
    for row in entities.values():
        row["case_ids"] = ";".join(dict.fromkeys(row["case_ids"]))
    entity_frame = pl.DataFrame(
        list(entities.values()),
        schema={c: (pl.Float64 if c == "risk_score" else pl.String) for c in ENTITY_COLUMNS},
    )
    link_frame = pl.DataFrame(
        links, schema={c: (pl.Float64 if c == "amount" else pl.String) for c in LINK_COLUMNS}
    )
    entity_path, link_path = folder / "entities.csv", folder / "links.csv"
    entity_frame.write_csv(entity_path, quote_style="non_numeric")
    link_frame.write_csv(link_path, quote_style="non_numeric")
    return [entity_path, link_path]
