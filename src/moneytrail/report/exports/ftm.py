"""FollowTheMoney entities (Aleph, OpenSanctions tooling) as JSON lines.

Accounts become ``BankAccount``, their holders ``Person`` / ``Company`` (or
``LegalEntity`` when the type is unknown), linked by ``Ownership``; every
transaction is a ``Payment`` from payer to beneficiary with both accounts.
The property names follow the FtM schema files (Payment.yaml, BankAccount.yaml,
Thing.yaml, ...); :func:`check_entity` holds every entity we write to that
subset, so a typo cannot reach an analyst's Aleph instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moneytrail import schema as S
from moneytrail.report.exports._common import (
    holder_type,
    is_victim,
    node_name,
    output_folder,
    stable_id,
    victim_accounts,
)

_THING = {"name", "alias", "country", "notes", "summary", "description", "address", "topics",
          "sourceUrl", "publisher"}
_LEGAL = _THING | {"email", "phone", "idNumber", "legalForm"}
_INTERVAL = {"startDate", "endDate", "date", "summary", "description", "recordId", "publisher"}
# schema → (allowed properties, required properties, entity-valued properties)
SCHEMAS: dict[str, tuple[set[str], set[str], set[str]]] = {
    "Person": (_LEGAL | {"firstName", "lastName", "birthDate", "nationality"}, {"name"}, set()),
    "Company": (_LEGAL | {"sector", "registrationNumber"}, {"name"}, set()),
    "LegalEntity": (_LEGAL, {"name"}, set()),
    "BankAccount": (_THING | {"accountNumber", "bankName", "iban", "bic", "accountType",
                              "openingDate", "closingDate", "balance"}, set(), set()),
    "Ownership": (_INTERVAL | {"owner", "asset", "role", "ownershipType"}, {"owner", "asset"},
                  {"owner", "asset"}),
    "Payment": (_INTERVAL | {"amount", "currency", "amountUsd", "amountEur", "sequenceNumber",
                             "transactionNumber", "purpose", "programme", "payer",
                             "payerAccount", "beneficiary", "beneficiaryAccount"},
                {"payer", "beneficiary"}, {"payer", "payerAccount", "beneficiary",
                                           "beneficiaryAccount"}),
}


def check_entity(entity: dict[str, Any]) -> list[str]:
    """Problems of one entity against the FtM subset above (empty when valid)."""
    problems = []
    schema = entity.get("schema")
    if schema not in SCHEMAS:
        return [f"unknown schema {schema!r}"]
    allowed, required, _ = SCHEMAS[schema]
    if not isinstance(entity.get("id"), str) or not entity["id"]:
        problems.append("missing id")
    props = entity.get("properties")
    if not isinstance(props, dict):
        return [*problems, "properties is not an object"]
    for name, values in props.items():
        if name not in allowed:
            problems.append(f"{schema} has no property {name!r}")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{schema}.{name} must be a list of strings")
    problems.extend(f"{schema} requires {name!r}" for name in sorted(required - set(props)))
    return problems


def _entity(schema: str, entity_id: str, **props: Any) -> dict[str, Any]:
    clean = {k: [str(v)] for k, v in props.items() if v not in (None, "")}
    return {"id": entity_id, "schema": schema, "properties": clean}


def entities(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    holder_of: dict[str, str] = {}
    account_of: dict[str, str] = {}

    def add_node(node: dict[str, Any], case_id: str, victims: set[str]) -> None:
        node_id = node["id"]
        if node_id in holder_of:
            return
        if node.get("kind") == "cash" or node_id == S.CASH_NODE:
            holder_id = stable_id("cash", node_id)
            out[holder_id] = _entity("LegalEntity", holder_id, name="Cash (over the counter)")
            holder_of[node_id] = holder_id
            return
        schema = {"person": "Person", "business": "Company"}.get(holder_type(node) or "",
                                                                 "LegalEntity")
        holder = node.get("holder") or {}
        holder_key = str(holder.get(S.HOLDER_ID) or node_id)
        holder_id = stable_id("holder", holder_key)
        notes = []
        if is_victim(node, victims):
            notes.append("suspected victim (not a subject)")
        elif node.get("role"):
            notes.append(f"role hypothesis: {node['role']}")
        if node.get("risk") is not None:
            notes.append(f"moneytrail risk {float(node['risk']):.2f} ({node.get('level')})")
        if case_id and node.get("member"):
            notes.append(f"case {case_id}")
        out.setdefault(holder_id, _entity(
            schema, holder_id, name=holder.get(S.HOLDER_NAME) or f"Holder of account {node_id}",
            country=holder.get(S.COUNTRY), phone=holder.get(S.PHONE),
            email=holder.get(S.EMAIL), address=holder.get(S.ADDRESS),
            notes="; ".join(notes) or None,
        ))
        account_id = stable_id("account", node_id)
        out[account_id] = _entity("BankAccount", account_id, accountNumber=node_id,
                                  name=node_name(node), bankName=holder.get(S.BANK))
        own_id = stable_id("ownership", f"{holder_key}|{node_id}")
        out[own_id] = _entity("Ownership", own_id, owner=holder_id, asset=account_id,
                              role="account holder")
        holder_of[node_id] = holder_id
        account_of[node_id] = account_id

    for bundle in bundles:
        case_id = str(bundle.get("case_id") or "")
        victims = victim_accounts(bundle["evidence"])
        for node in bundle["nodes"]:
            add_node(node, case_id, victims)
        for t in bundle["txns"]:
            for end in (t["from"], t["to"]):  # a payee the case links did not list
                add_node({"id": end, "kind": "account", "member": False}, case_id, set())
            pay_id = stable_id("payment", str(t[S.TXN_ID]))
            stamp = str(t.get(S.TIMESTAMP) or "")
            out[pay_id] = _entity(
                "Payment", pay_id,
                payer=holder_of[t["from"]], payerAccount=account_of.get(t["from"]),
                beneficiary=holder_of[t["to"]], beneficiaryAccount=account_of.get(t["to"]),
                amount=f"{float(t['amount']):.2f}" if t.get(S.AMOUNT) is not None else None,
                currency=t.get(S.CURRENCY) or bundle.get("currency"),
                date=stamp[:10] or None, transactionNumber=t[S.TXN_ID],
                purpose=t.get(S.MEMO),
                summary=" ".join(x for x in (t.get(S.CHANNEL), t.get(S.MERCHANT)) if x) or None,
                recordId=case_id or None,
            )
    return list(out.values())


def write(scan, bundles, out: Path, fmt: str = "ftm", profile=None) -> list[Path]:
    folder = output_folder(out)
    rows = entities(bundles)
    for entity in rows:
        problems = check_entity(entity)
        if problems:  # a bug in this module, not in the user's data
            raise AssertionError(f"FtM entity {entity['id']}: {problems}")
    path = folder / "entities.ftm.json"
    with path.open("w", encoding="utf-8") as fh:
        for entity in rows:
            fh.write(json.dumps(entity, ensure_ascii=False, sort_keys=True) + "\n")
    return [path]
