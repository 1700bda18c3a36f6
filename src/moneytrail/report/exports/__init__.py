"""Exports of a scan for FIUs and investigation tools.

Each format is a module with ``write(scan, bundles, out, profile) -> list[Path]``;
:func:`export` loads the scan once, builds the case bundles once and
dispatches. Every output is a draft for a human: nothing is ever sent.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from moneytrail.errors import InputError
from moneytrail.report.casedata import case_bundles
from moneytrail.report.scan_output import case_headers, load_scan

EXPORT_FORMATS: dict[str, str] = {
    "goaml": "moneytrail.report.exports.goaml",
    "sar": "moneytrail.report.exports.sar",
    "i2": "moneytrail.report.exports.i2",
    "gexf": "moneytrail.report.exports.graphs",
    "graphml": "moneytrail.report.exports.graphs",
    "ftm": "moneytrail.report.exports.ftm",
}
# Transactions carried per case into an export (goAML reports and i2 charts
# of tens of thousands of rows help nobody; the scan folder has them all).
MAX_EXPORT_TXNS = 5000


def export(
    outdir: Path,
    fmt: str,
    out: Path,
    profile: str | None = None,
    cases: list[str] | None = None,
    top_cases: int | None = None,
) -> list[Path]:
    """Write ``fmt`` files for the scan's cases under ``out``; return their paths."""
    fmt = (fmt or "").lower()
    if fmt not in EXPORT_FORMATS:
        raise InputError(
            f"unknown export format {fmt!r}", hint="formats: " + ", ".join(EXPORT_FORMATS)
        )
    if profile is not None and fmt != "goaml":
        raise InputError("--profile applies to --format goaml only")
    scan = load_scan(outdir)
    # which cases, from their headers: whole cases are decoded for the chosen only
    headers = case_headers(scan.cases, 0, len(scan.cases))
    chosen = list(range(len(headers)))
    if cases:
        known = {h["case_id"] for h in headers}
        unknown = [c for c in cases if c not in known]
        if unknown:
            raise InputError(
                "unknown case id(s): " + ", ".join(unknown),
                file=str(Path(outdir) / "cases.json"),
            )
        wanted = set(cases)
        chosen = [i for i in chosen if headers[i]["case_id"] in wanted]
    if top_cases is not None:
        chosen = chosen[:top_cases]
    selected = [scan.cases[i] for i in chosen]
    bundles = case_bundles(scan, selected, max_txns=MAX_EXPORT_TXNS, max_evidence=1000)
    module = importlib.import_module(EXPORT_FORMATS[fmt])
    return module.write(scan, bundles, Path(out), fmt=fmt, profile=profile)
