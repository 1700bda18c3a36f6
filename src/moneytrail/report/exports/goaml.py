"""goAML STR/SAR XML drafts, one per case, driven by a per-FIU profile.

goAML (UNODC) is the reporting system of many FIUs; each issues its own XSD
variant and lookup lists, so everything FIU-specific (reporting entity id,
report code, transmission-mode, funds and indicator codes, and the element
order to check) comes from a profile YAML in ``moneytrail/export_profiles/``
or a file the user passes. The output is a draft for a human filer: the
placeholders must be completed and the file validated against the FIU's own
XSD before upload. :func:`check_structure` holds every draft to the element
order and cardinality the profile documents.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from moneytrail import schema as S
from moneytrail.errors import InputError
from moneytrail.report.exports._common import file_stem, output_folder
from moneytrail.report.exports.sar import narrative

REQUIRED_PROFILE_KEYS = ("rentity_id", "submission_code", "report_code", "currency_code_local",
                         "country", "institution_name", "transmode_codes", "funds_codes",
                         "indicators", "structure")
DRAFT_NOTE = (
    "DRAFT goAML report prepared by moneytrail for a human filer. Complete the placeholders "
    "(REPLACE), review every transaction and the reason, and validate against the XSD issued "
    "by your FIU before submission. Nothing has been filed."
)


def profile_names() -> list[str]:
    folder = resources.files("moneytrail") / "export_profiles"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(profile: str | Path | None) -> dict[str, Any]:
    """A profile by name (shipped) or by path; checked for the keys the export needs."""
    name = str(profile) if profile else "generic"
    path = Path(name)
    if not path.is_file():
        shipped = resources.files("moneytrail") / "export_profiles" / f"{name}.yaml"
        if not shipped.is_file():
            raise InputError(
                f"goAML profile {name!r} not found",
                hint="pass a profile YAML file or one of: " + ", ".join(profile_names()),
            )
        text, where = shipped.read_text(encoding="utf-8"), f"export_profiles/{name}.yaml"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", file=where) from None
    if not isinstance(data, dict):
        raise InputError("a goAML profile is a mapping of settings", file=where)
    missing = [k for k in REQUIRED_PROFILE_KEYS if k not in data]
    if missing:
        raise InputError("profile lacks " + ", ".join(missing), file=where, column=missing[0],
                         hint="copy export_profiles/generic.yaml and edit it")
    structure = data["structure"]
    if not isinstance(structure, dict) or "report" not in structure:
        raise InputError("structure must map element names to sequences, including report",
                         file=where, column="structure")
    data["structure"] = {k: _parse_sequence(str(v)) for k, v in structure.items()}
    data["_source"] = where
    return data


def _parse_sequence(text: str) -> list[tuple[frozenset[str], int, int]]:
    """'a b? c* d+ e|f' → [(names, min, max)]."""
    tokens = []
    for word in text.split():
        low, high = 1, 1
        if word[-1] in "?*+":
            low, high = {"?": (0, 1), "*": (0, 10**9), "+": (1, 10**9)}[word[-1]]
            word = word[:-1]
        tokens.append((frozenset(word.split("|")), low, high))
    return tokens


def check_structure(root: ET.Element, profile: dict[str, Any]) -> list[str]:
    """Problems of a report element tree against the profile's structure (empty when fine)."""
    problems: list[str] = []
    structure = profile["structure"]

    def visit(element: ET.Element, path: str) -> None:
        children = [c for c in element if isinstance(c.tag, str)]
        spec = structure.get(element.tag)
        if spec is None:
            if children:
                problems.append(f"{path}: no structure documented for <{element.tag}>")
            elif not (element.text or "").strip():
                problems.append(f"{path}: empty element")
            return
        i = 0
        for names, low, high in spec:
            count = 0
            while i < len(children) and children[i].tag in names and count < high:
                i += 1
                count += 1
            if count < low:
                found = f"<{children[i].tag}>" if i < len(children) else "the end"
                problems.append(f"{path}: expected {'|'.join(sorted(names))} but found {found}")
        for extra in children[i:]:
            problems.append(f"{path}: unexpected <{extra.tag}> (out of order or unknown)")
        for k, child in enumerate(children):
            visit(child, f"{path}/{child.tag}[{k}]")

    visit(root, root.tag)
    return problems


# Characters XML 1.0 cannot carry at all (a memo may hold any of them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = _NOT_XML.sub(" ", str(text))
    return element


def _ordered(parent: ET.Element, tag: str, values: dict[str, Any], profile: dict) -> None:
    """A profile mapping (reporting_person, location) as children in the documented order."""
    element = _sub(parent, tag)
    for names, _, _ in profile["structure"].get(tag, []):
        for name in sorted(names):
            if values.get(name) not in (None, ""):
                _sub(element, name, values[name])


def _split_name(full: str) -> tuple[str, str]:
    parts = full.split()
    if len(parts) >= 2:
        return " ".join(parts[:-1]), parts[-1]
    return "UNKNOWN", full or "UNKNOWN"


def indicator_codes(bundle: dict[str, Any], profile: dict[str, Any]) -> list[str]:
    mapping = profile["indicators"] or {}
    by_code = mapping.get("by_code") or {}
    by_prefix = mapping.get("by_prefix") or {}
    by_typology = mapping.get("by_typology") or {}
    found: list[str] = []
    codes = list(bundle.get("codes") or []) + [e["code"] for e in bundle["evidence"]]
    for code in codes:
        if code in by_code:
            found.append(str(by_code[code]))
            continue
        prefix = next((p for p in by_prefix if str(code).startswith(p)), None)
        if prefix is not None:
            found.append(str(by_prefix[prefix]))
        elif code in by_typology:
            found.append(str(by_typology[code]))
        elif mapping.get("default"):
            found.append(str(mapping["default"]))
    for typology in bundle.get("typologies") or []:
        if typology in by_typology:
            found.append(str(by_typology[typology]))
    return list(dict.fromkeys(found))


def build_report(bundle: dict[str, Any], profile: dict[str, Any],
                 created: str | None = None) -> ET.Element:
    nodes = {n["id"]: n for n in bundle["nodes"]}
    report = ET.Element("report")
    _sub(report, "rentity_id", profile["rentity_id"])
    if profile.get("rentity_branch"):
        _sub(report, "rentity_branch", profile["rentity_branch"])
    _sub(report, "submission_code", profile["submission_code"])
    _sub(report, "report_code", profile["report_code"])
    _sub(report, "entity_reference", f"moneytrail-{bundle.get('case_id') or 'case'}")
    _sub(report, "submission_date", datetime.now().strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(report, "currency_code_local", profile["currency_code_local"])
    if profile.get("reporting_person"):
        _ordered(report, "reporting_person", profile["reporting_person"], profile)
    if profile.get("location"):
        _ordered(report, "location", profile["location"], profile)
    limit = int(profile.get("reason_max_chars") or 4000)
    reason = narrative(bundle, created)
    if len(reason) > limit:
        reason = reason[: limit - 60].rstrip() + " … (cut; the full narrative is the SAR export)"
    _sub(report, "reason", reason)
    if profile.get("action"):
        _sub(report, "action", str(profile["action"]).strip())
    max_txns = int(profile.get("max_transactions") or 1000)
    txns = sorted(bundle["txns"], key=lambda t: -float(t.get(S.AMOUNT) or 0))[:max_txns]
    for t in sorted(txns, key=lambda t: (str(t.get(S.TIMESTAMP)), str(t[S.TXN_ID]))):
        _transaction(report, t, nodes, bundle, profile)
    indicators = indicator_codes(bundle, profile)
    if indicators:
        box = _sub(report, "report_indicators")
        for code in indicators:
            _sub(box, "indicator", code)
    return report


def _transaction(report, t, nodes, bundle, profile) -> None:
    element = _sub(report, "transaction")
    _sub(element, "transactionnumber", t[S.TXN_ID])
    _sub(element, "internal_ref_number", bundle.get("case_id") or "")
    place = ", ".join(x for x in (t.get("city"), t.get("country")) if x)
    if place:
        _sub(element, "transaction_location", place)
    description = " · ".join(x for x in (t.get(S.CHANNEL), t.get(S.MERCHANT), t.get(S.MEMO)) if x)
    if description:
        _sub(element, "transaction_description", description[:4000])
    _sub(element, "date_transaction", t[S.TIMESTAMP])
    channel = t.get(S.CHANNEL) or "other"
    codes = profile["transmode_codes"]
    _sub(element, "transmode_code", codes.get(channel, codes.get("other", "O")))
    _sub(element, "amount_local", f"{float(t.get('amount') or 0):.2f}")
    for side in ("from", "to"):
        _party(element, side, t, nodes.get(t[side]), profile)


def _party(element, side: str, t, node, profile) -> None:
    account_id = t[side]
    holder = (node or {}).get("holder") or {}
    my_client = bool(holder)  # the filer's own customers are the ones in its KYC table
    wrapper = _sub(element, f"t_{side}_my_client" if my_client else f"t_{side}")
    funds = profile["funds_codes"]
    cash = (t.get(S.CHANNEL) == "cash") or account_id == S.CASH_NODE
    _sub(wrapper, f"{side}_funds_code", funds.get("cash" if cash else "default", "A"))
    country = t.get(f"{side}_country") or holder.get(S.COUNTRY) or profile["country"]
    if account_id == S.CASH_NODE:
        entity = _sub(wrapper, f"{side}_entity")
        _sub(entity, "name", "Cash deposit" if side == "from" else "Cash withdrawal")
        _sub(entity, "comments", "Cash: the export does not identify the person at the counter")
    else:
        account = _sub(wrapper, f"{side}_account")
        bank = t.get(f"{side}_bank")
        _sub(account, "institution_name",
             profile["institution_name"] if my_client else (bank or "UNKNOWN"))
        _sub(account, "account", account_id)
        if t.get(S.CURRENCY):
            _sub(account, "currency_code", t[S.CURRENCY])
        if holder.get(S.HOLDER_NAME):
            _sub(account, "account_name", holder[S.HOLDER_NAME])
        elif t.get(S.MERCHANT) and side == "to":
            _sub(account, "account_name", t[S.MERCHANT])
        if my_client:
            if holder.get(S.HOLDER_ID):
                _sub(account, "client_number", holder[S.HOLDER_ID])
            _sub(account, "personal_account_type", profile.get("personal_account_type", "A"))
            name = str(holder.get(S.HOLDER_NAME) or "UNKNOWN")
            if holder.get(S.HOLDER_TYPE) == "business":
                entity = _sub(account, "t_entity")
                _sub(entity, "name", name)
            else:
                signatory = _sub(account, "signatory")
                person = _sub(signatory, "t_person")
                first, last = _split_name(name)
                _sub(person, "first_name", first)
                _sub(person, "last_name", last)
            _sub(account, "status_code", profile.get("account_status_code", "A"))
    _sub(wrapper, f"{side}_country", country)


def write(scan, bundles, out: Path, fmt: str = "goaml", profile=None) -> list[Path]:
    settings = load_profile(profile)
    folder = output_folder(out)
    created = scan.manifest.get("created")
    paths = []
    for bundle in bundles:
        if not bundle["txns"]:
            continue  # a goAML STR needs at least one transaction
        root = build_report(bundle, settings, created)
        problems = check_structure(root, settings)
        if problems:
            raise InputError(
                "the goAML draft does not match the profile's structure: " + "; ".join(
                    problems[:5]),
                file=settings["_source"],
                hint="check the profile's structure section against your FIU's XSD",
            )
        ET.indent(root)
        path = folder / f"goaml_{file_stem(bundle.get('case_id'))}.xml"
        body = ET.tostring(root, encoding="unicode")
        comment = DRAFT_NOTE.replace("--", "- -")
        path.write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<!-- {comment} -->\n{body}\n',
            encoding="utf-8",
        )
        paths.append(path)
    return paths
