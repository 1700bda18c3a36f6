"""Draft SAR narratives: who, what, when, where, why and how, per case.

A draft for a human filer, never filed by this tool. Where trafficking or
child sexual exploitation indicators fired it carries FinCEN's key term
``HUMAN TRAFFICKING FIN-2020-A008`` (FIN-2020-A008 asks for it in SAR field 2
and the narrative, with field 38(h) ticked). Accounts whose role hypothesis is
victim or extortion victim are never listed as subjects: FinCEN asks filers
not to report suspected victims as subjects, so they appear as possible
victims in the narrative only.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from moneytrail import __version__
from moneytrail import schema as S
from moneytrail.report.exports._common import (
    file_stem,
    is_victim,
    node_name,
    output_folder,
    trafficking_indicators,
    victim_accounts,
)

KEY_TERM = "HUMAN TRAFFICKING FIN-2020-A008"
WIDTH = 96
MAX_LISTED = 12  # accounts, flows and reasons listed by name per section


def _fmt(value: Any) -> str:
    return f"{float(value or 0):,.2f}"


def _para(text: str) -> str:
    return textwrap.fill(text, WIDTH)


def _bullets(lines: list[str]) -> str:
    return "\n".join(textwrap.fill(line, WIDTH, initial_indent="  - ",
                                   subsequent_indent="    ") for line in lines)


def parties(bundle: dict[str, Any]) -> tuple[list[dict], list[dict], list[dict]]:
    """(subjects, possible victims, counterparties outside the case)."""
    subjects, victims, others = [], [], []
    named_victims = victim_accounts(bundle["evidence"])
    for node in bundle["nodes"]:
        if node["kind"] == "cash":
            continue
        if is_victim(node, named_victims):
            victims.append(node)
        elif node["member"]:
            subjects.append(node)
        else:
            others.append(node)
    return subjects, victims, others


def _who(node: dict[str, Any]) -> str:
    name = node_name(node)
    text = f"account {node['id']}" + (f" held by {name}" if name != node["id"] else "")
    extra = []
    if node.get("role") and node["role"] not in ("victim", "extortion_victim"):
        extra.append(f"role hypothesis {node['role'].replace('_', ' ')}")
    if node.get("risk") is not None:
        extra.append(f"risk {float(node['risk']):.2f} ({node.get('level')})")
    return text + (f" ({'; '.join(extra)})" if extra else "")


def narrative(bundle: dict[str, Any], created: str | None = None) -> str:
    """The draft narrative of one case as plain text."""
    cur = bundle.get("currency") or ""
    subjects, victims, others = parties(bundle)
    indicators = trafficking_indicators(bundle)
    txns = bundle["txns"]
    n_txns = bundle.get("n_txns") or len(txns)
    total = bundle.get("total_value") or 0.0
    parts: list[str] = []
    head = f"DRAFT SUSPICIOUS ACTIVITY REPORT NARRATIVE: case {bundle.get('case_id') or ''}"
    parts.append(head.strip())
    parts.append(_para(
        "Prepared by moneytrail " + __version__ + f" on {date.today().isoformat()}"
        + (f" from a scan made {created}" if created else "") + ". This is a draft for review "
        "and completion by a human filer; nothing has been filed. It contains alert content: do "
        "not share it with the subjects (no tipping off)."
    ))
    if indicators:
        parts.append(KEY_TERM)
        parts.append(_para(
            "Trafficking-related indicators fired (" + ", ".join(indicators) + "). Use the key "
            f"term {KEY_TERM} in SAR field 2 (filing institution note to FinCEN) and in this "
            "narrative, and tick field 38(h) (human trafficking)."
        ))
    # WHO
    parts.append("WHO")
    if subjects:
        parts.append(_bullets([_who(n) for n in subjects[:MAX_LISTED]]
                              + ([f"and {len(subjects) - MAX_LISTED} more accounts"]
                                 if len(subjects) > MAX_LISTED else [])))
    else:
        parts.append(_para("No subject could be named from the data: every account of the case "
                           "is a suspected victim. Review before filing."))
    if victims:
        parts.append(_para(
            "Possible victims (not reported as subjects): "
            + "; ".join(f"account {v['id']}" for v in victims[:MAX_LISTED])
            + (f" and {len(victims) - MAX_LISTED} more" if len(victims) > MAX_LISTED else "")
            + ". Their accounts appear to be used or controlled by the subjects."
        ))
    shared = bundle.get("shared_identifiers") or []
    if shared:
        parts.append(_para("Shared identifiers: " + "; ".join(
            f"{s.get('kind')} {s.get('value')} used by accounts "
            + ", ".join(s.get("accounts") or [])
            for s in shared[:MAX_LISTED]
        ) + "."))
    # WHAT
    parts.append("WHAT")
    channels = Counter(t.get(S.CHANNEL) or "unknown" for t in txns)
    by_channel: dict[str, float] = {}
    for t in txns:
        by_channel[t.get(S.CHANNEL) or "unknown"] = (
            by_channel.get(t.get(S.CHANNEL) or "unknown", 0.0) + float(t.get(S.AMOUNT) or 0))
    what = (f"{n_txns:,} transactions totalling {_fmt(total)} {cur} moved among "
            f"{bundle.get('n_accounts')} accounts of the case and their counterparties.")
    if bundle.get("typologies"):
        what += " Patterns found: " + ", ".join(
            str(t).replace("_", " ") for t in bundle["typologies"]) + "."
    if bundle.get("summary"):
        what += f" Summary: {bundle['summary']}."
    parts.append(_para(what))
    if channels:
        shown = " (of the largest transactions listed)" if n_txns > len(txns) else ""
        parts.append(_para("By channel" + shown + ": " + "; ".join(
            f"{ch} {n} transactions, {_fmt(by_channel[ch])} {cur}"
            for ch, n in channels.most_common()) + "."))
    # WHEN
    parts.append("WHEN")
    parts.append(_para(f"From {bundle.get('window_start') or 'unknown'} to "
                       f"{bundle.get('window_end') or 'unknown'} (local time of each "
                       "transaction)."))
    hours = [int(str(t[S.TIMESTAMP])[11:13]) for t in txns if t.get(S.TIMESTAMP)]
    if hours:
        night = sum(1 for h in hours if h >= 22 or h < 6)
        if night:
            parts.append(_para(f"{night} of {len(hours)} listed transactions took place between "
                               "22:00 and 06:00."))
    # WHERE
    parts.append("WHERE")
    places = Counter(" ".join(x for x in (t.get("city"), t.get("country")) if x)
                     for t in txns if t.get("city") or t.get("country"))
    corridors = Counter(f"{t.get('from_country')} to {t.get('to_country')}" for t in txns
                        if t.get(S.FROM_COUNTRY) and t.get(S.TO_COUNTRY)
                        and t.get(S.FROM_COUNTRY) != t.get(S.TO_COUNTRY))
    if places:
        parts.append(_para("Branches, ATMs and merchants: " + "; ".join(
            f"{p} ({n})" for p, n in places.most_common(MAX_LISTED)) + "."))
    if corridors:
        parts.append(_para("Cross-border flows: " + "; ".join(
            f"{c} ({n})" for c, n in corridors.most_common(MAX_LISTED)) + "."))
    if not places and not corridors:
        parts.append(_para("The export records no locations for these transactions."))
    # WHY
    parts.append("WHY")
    reasons = []
    victim_ids = {v["id"] for v in victims}
    for e in bundle["evidence"][: MAX_LISTED * 2]:
        rule = f"{e['code']}" + (f" ({e['title']})" if e.get("title") else "")
        refs = f" [{'; '.join(e['references'])}]" if e.get("references") else ""
        who = f"account {e['account']}" + (" (possible victim)"
                                           if e["account"] in victim_ids else "")
        reasons.append(f"{who}: {rule}: {e.get('reason') or ''}{refs}")
    if len(bundle["evidence"]) > MAX_LISTED * 2 or bundle.get("n_evidence", 0) > len(reasons):
        reasons.append(f"{bundle.get('n_evidence', len(bundle['evidence'])) - len(reasons)} "
                       "further indicators are in the scan's evidence.parquet")
    parts.append(_bullets(reasons) if reasons else _para("No evidence rows were found."))
    # HOW
    parts.append("HOW")
    flows = [f"{e['from']} to {e['to']}: {e['n']} payments, {_fmt(e['total'])} {cur}"
             + (f", {e['first']} to {e['last']}" if e.get("first") else "")
             for e in bundle["edges"][:MAX_LISTED]]
    parts.append(_para("The largest money flows among the accounts:"))
    parts.append(_bullets(flows) if flows else _para("No flows recorded."))
    if others:
        parts.append(_para("Counterparties outside the case: " + ", ".join(
            o["id"] for o in others[:MAX_LISTED]) + "."))
    # TOTALS and records
    parts.append("TOTALS AND RECORDS")
    parts.append(_para(
        f"Total value {_fmt(total)} {cur} in {n_txns:,} transactions. Supporting transaction "
        "ids (first 40): " + ", ".join(str(t[S.TXN_ID]) for t in txns[:40])
        + (". The full list is in cases.json of the scan." if n_txns > 40 else ".")
    ))
    return "\n\n".join(parts) + "\n"


def write(scan, bundles, out: Path, fmt: str = "sar", profile=None) -> list[Path]:
    folder = output_folder(out)
    created = scan.manifest.get("created")
    paths = []
    for bundle in bundles:
        path = folder / f"sar_{file_stem(bundle.get('case_id'))}.txt"
        path.write_text(narrative(bundle, created), encoding="utf-8")
        paths.append(path)
    return paths
