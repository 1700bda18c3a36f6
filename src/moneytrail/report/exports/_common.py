"""What the export formats share: output folders, file names, roles, safe cells."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from moneytrail import schema as S
from moneytrail.errors import InputError

VICTIM_ROLES = S.VICTIM_ROLES
# Rule code prefixes and tag/typology words that mark trafficking or child
# sexual exploitation indicators (red_flags.md families HT-*, CSE-*).
TRAFFICKING_PREFIXES = ("HT-", "CSE-")
TRAFFICKING_WORDS = ("traffick", "ocse", "sexual", "ht.", "cse")


def output_folder(out: Path) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError("export output must be a folder", file=str(out),
                         hint="pass -o FOLDER; several files are written into it")
    out.mkdir(parents=True, exist_ok=True)
    return out


def file_stem(case_id: str | None) -> str:
    text = str(case_id or "case")
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def stable_id(kind: str, value: str) -> str:
    """An id made only of safe characters, stable across runs."""
    return f"mt-{kind}-" + hashlib.sha1(f"{kind}:{value}".encode()).hexdigest()[:20]


def victim_accounts(evidence: list[dict[str, Any]]) -> set[str]:
    """Accounts that some piece of evidence takes for a victim (once per case:
    asking the evidence list again for each of a case's accounts was quadratic)."""
    return {e.get("account") for e in evidence if e.get("role") in VICTIM_ROLES}


def is_victim(node: dict[str, Any], victims: set[str]) -> bool:
    """A suspected victim by the case role or any evidence's role hypothesis
    (``victims`` from :func:`victim_accounts` of the case's evidence)."""
    return node.get("role") in VICTIM_ROLES or node["id"] in victims


def trafficking_indicators(bundle: dict[str, Any]) -> list[str]:
    """Codes of the case that are trafficking / child exploitation indicators."""
    found = []
    for code in bundle.get("codes") or []:
        if str(code).upper().startswith(TRAFFICKING_PREFIXES):
            found.append(code)
    for e in bundle.get("evidence") or []:
        tags = " ".join(e.get("typology_tags") or []).lower()
        if (str(e.get("code") or "").upper().startswith(TRAFFICKING_PREFIXES)
                or any(w in tags for w in TRAFFICKING_WORDS)):
            found.append(e["code"])
    for typology in bundle.get("typologies") or []:
        if any(w in str(typology).lower() for w in TRAFFICKING_WORDS[:3]):
            found.append(typology)
    return list(dict.fromkeys(found))


def node_name(node: dict[str, Any]) -> str:
    holder = node.get("holder") or {}
    return str(holder.get(S.HOLDER_NAME) or node.get("label") or node["id"])


def holder_type(node: dict[str, Any]) -> str | None:
    value = (node.get("holder") or {}).get(S.HOLDER_TYPE)
    return str(value) if value in S.HOLDER_TYPES else None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Free text for a spreadsheet cell that Excel cannot run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
