"""The offline HTML case report (OUTDIR/report.html) and its page machinery.

One self-contained file: vis-network and our own script are inlined, the
data rides along as escaped JSON, a Content-Security-Policy allows only
those exact scripts (by hash) and no network at all, and every text from the
data goes through Jinja2 autoescaping.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from moneytrail import __version__
from moneytrail import schema as S
from moneytrail.report import assets
from moneytrail.report.casedata import case_bundles
from moneytrail.report.scan_output import ScanOutput, case_headers, load_scan

PICTURES_DIR = "report_files"  # beside report.html: printable PNGs
MAX_ALERT_ROWS = 1000  # alerts listed in the page; the full list is alerts.csv
MAX_CASE_TXNS = 300  # transactions embedded per case (largest by value)
MAX_CASE_EVIDENCE = 150  # evidence rows per case (strongest first)
MAX_TIMELINE_LANES = 14
MAX_OTHER_CASES = 2000  # further cases listed in the table; cases.json has all
MAX_CHART_NODES = 120  # accounts drawn per case; a chart of thousands helps nobody

ROLE_COLOURS = {
    "controller": "#c0392b",
    "collector": "#e67e22",
    "front_business": "#8e44ad",
    "buyer": "#d35400",
    "facilitator": "#2980b9",
    "launderer": "#16a085",
    "victim": "#27ae60",
    "extortion_victim": "#2ecc71",
    "": "#7f8c8d",
}
CHANNEL_COLOURS = {
    "cash": "#27ae60", "wire": "#2c3e50", "ach": "#7f8c8d", "card": "#8e44ad",
    "p2p": "#e67e22", "cheque": "#95a5a6", "crypto": "#f1c40f", "remittance": "#c0392b",
    "other": "#34495e",
}
LEVEL_ORDER = ("critical", "high", "medium", "low", "none")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.ChainableUndefined,  # optional keys in the data read as empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["num"] = lambda v: "" if v is None else f"{v:,}"
    env.filters["score"] = lambda v: "" if v is None else f"{float(v):.2f}"
    env.filters["when"] = lambda v: "" if not v else str(v).replace("T", " ")[:16]
    env.filters["tojson_safe"] = assets.safe_json
    env.globals["role_colours"] = ROLE_COLOURS
    env.globals["channel_colours"] = CHANNEL_COLOURS
    return env


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"{float(value):,.2f}"


def render_page(template: str, context: dict[str, Any], out: Path) -> Path:
    """Render one self-contained page; the CSP lists the hashes of its two scripts."""
    vis_js, vis_css = assets.vis_network()
    vis_js = assets.inline_script(vis_js)
    own_js = assets.inline_script(assets.static_text("report.js"))
    css = assets.static_text("report.css") + "\n" + vis_css
    csp = (
        "default-src 'none'; "
        f"script-src {assets.script_hash(vis_js)} {assets.script_hash(own_js)}; "
        "style-src 'unsafe-inline'; img-src data:; font-src data:; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'"
    )
    html = environment().get_template(template).render(
        **context,
        csp=csp,
        css=css,
        vis_js=vis_js,
        own_js=own_js,
        licence=assets.VIS_LICENCE,
        tool_version=__version__,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def case_view(bundle: dict[str, Any], picture: str | None = None) -> dict[str, Any]:
    """A bundle plus what the template needs to draw it (timeline, chart data).

    The bundle should be cut with :func:`casedata.focus` first.
    """
    evidence_by_account: dict[str, list[dict[str, Any]]] = {}
    for row in bundle["evidence"]:
        evidence_by_account.setdefault(row["account"], []).append(
            {k: row[k] for k in ("code", "title", "severity", "score", "reason", "n_txn_ids",
                                 "window_start", "window_end")}
        )
    chart = {
        "nodes": [
            {k: n[k] for k in ("id", "label", "kind", "member", "role", "risk", "level")}
            for n in bundle["nodes"]
        ],
        "edges": [
            {k: e[k] for k in ("from", "to", "n", "total", "first", "last")}
            for e in bundle["edges"]
        ],
        "evidence": evidence_by_account,
        "currency": bundle.get("currency") or "",
    }
    return {
        **bundle,
        "chart": chart,
        "timeline": timeline(bundle),
        "picture": picture,
        "anchor": "case-" + _anchor(str(bundle.get("case_id") or "explore")),
    }


def _anchor(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def timeline(bundle: dict[str, Any], width: int = 920) -> dict[str, Any]:
    """i2-style timeline: one lane per account, each transaction a stroke between lanes."""
    txns = [t for t in bundle["txns"] if t.get(S.TIMESTAMP)]
    lane_ids = [n["id"] for n in bundle["nodes"] if n["member"]]
    for t in txns:  # then the counterparties that appear most
        for end in (t["from"], t["to"]):
            if end not in lane_ids and len(lane_ids) < MAX_TIMELINE_LANES:
                lane_ids.append(end)
    labels = {n["id"]: n["label"] for n in bundle["nodes"]}
    other = len(lane_ids)
    left, top, lane_h = 200, 24, 26
    height = top + lane_h * (other + 1) + 10
    lanes = [
        {"y": top + lane_h * i + lane_h // 2, "label": labels.get(a, a), "id": a}
        for i, a in enumerate(lane_ids)
    ] + [{"y": top + lane_h * other + lane_h // 2, "label": "other accounts", "id": ""}]
    lane_y = {lane["id"]: lane["y"] for lane in lanes if lane["id"]}
    other_y = lanes[-1]["y"]
    if not txns:
        return {"width": width, "height": height, "left": left, "lanes": lanes, "marks": [],
                "ticks": []}
    stamps = [datetime.fromisoformat(t[S.TIMESTAMP]) for t in txns]
    t0, t1 = min(stamps), max(stamps)
    span = max((t1 - t0).total_seconds(), 1.0)
    plot_w = width - left - 20
    max_amount = max(float(t[S.AMOUNT] or 0) for t in txns) or 1.0
    marks = []
    for t, ts in zip(txns, stamps, strict=True):
        x = left + plot_w * (ts - t0).total_seconds() / span
        y1, y2 = lane_y.get(t["from"], other_y), lane_y.get(t["to"], other_y)
        amount = float(t[S.AMOUNT] or 0)
        marks.append(
            {
                "x": round(x, 1), "y1": y1, "y2": y2,
                "r": round(2.5 + 4.5 * (amount / max_amount) ** 0.5, 1),
                "colour": CHANNEL_COLOURS.get(t.get(S.CHANNEL) or "other", "#34495e"),
                "title": _txn_title(t, labels),
            }
        )
    ticks = []
    for k in range(5):
        frac = k / 4
        moment = t0 + (t1 - t0) * frac
        label = moment.strftime("%Y-%m-%d %H:%M")
        ticks.append({"x": round(left + plot_w * frac, 1), "label": label})
    return {"width": width, "height": height, "left": left, "lanes": lanes, "marks": marks,
            "ticks": ticks}


def _txn_title(t: dict[str, Any], labels: dict[str, str]) -> str:
    parts = [
        str(t[S.TIMESTAMP]).replace("T", " "),
        f"{t['from']} → {t['to']}",
        f"{float(t['amount'] or 0):,.2f} {t.get('currency') or ''}".strip(),
    ]
    for key in ("channel", "merchant", "memo", "city"):
        if t.get(key):
            parts.append(str(t[key]))
    parts.append(str(t[S.TXN_ID]))
    return " · ".join(parts)


def score_distribution(scores: pl.DataFrame, bins: int = 20) -> dict[str, Any]:
    """Accounts per risk-score bin and per level (the picture is drawn by pictures.py)."""
    counts = (
        scores.select(
            (pl.col(S.SC_RISK).fill_null(0.0).clip(0.0, 1.0) * bins)
            .floor()
            .clip(0, bins - 1)
            .cast(pl.Int64)
            .alias("_bin")
        )
        .group_by("_bin")
        .len()
    )
    per_bin = dict(counts.iter_rows())
    values = [int(per_bin.get(i, 0)) for i in range(bins)]
    levels = dict(scores.group_by(S.SC_LEVEL).len().iter_rows())
    return {
        "bins": values,
        "levels": [(lvl, int(levels.get(lvl, 0))) for lvl in LEVEL_ORDER],
        "n": scores.height,
    }


def write_report(outdir: Path, top_cases: int = 20, scan: ScanOutput | None = None) -> Path:
    """Write OUTDIR/report.html (and the PNGs in OUTDIR/report_files/).

    ``scan`` is the scan's output when the caller holds it already (see
    :func:`moneytrail.report.scan_in_memory`); otherwise it is read from OUTDIR.
    """
    from moneytrail.report import pictures

    outdir = Path(outdir)
    if scan is None:
        scan = load_scan(outdir)
    top = scan.cases[: max(0, top_cases)]
    catalogue = scan.rule_catalogue()
    bundles = case_bundles(scan, top, MAX_CASE_TXNS, MAX_CASE_EVIDENCE, catalogue,
                           max_nodes=MAX_CHART_NODES)
    picture_dir = outdir / PICTURES_DIR
    histogram = pictures.score_histogram(scan.scores, picture_dir / "score_histogram.png")
    views = []
    for bundle in bundles:
        png = pictures.case_network(bundle, picture_dir / f"{_anchor(bundle['case_id'])}.png")
        views.append(case_view(bundle, f"{PICTURES_DIR}/{png.name}"))
    context = summary_context(scan, catalogue)
    context.update(
        cases=views,
        other_cases=case_headers(scan.cases, len(top), len(top) + MAX_OTHER_CASES),
        n_other_cases=max(0, len(scan.cases) - len(top)),
        histogram_png=assets.png_data_uri(histogram),
        histogram_file=f"{PICTURES_DIR}/{histogram.name}",
        max_case_txns=MAX_CASE_TXNS,
        max_case_evidence=MAX_CASE_EVIDENCE,
        data={"cases": {v["anchor"]: v["chart"] for v in views}},
    )
    return render_page("report.html.j2", context, outdir / S.REPORT_FILE)


def summary_context(scan: ScanOutput, catalogue: dict[str, Any]) -> dict[str, Any]:
    manifest = scan.manifest
    alerts = scan.alerts.sort(S.SC_RANK)
    rules = manifest.get("rules") or {}
    return {
        "title": "moneytrail case report",
        "manifest": manifest,
        "inputs": manifest.get("inputs") or [],
        "counts": manifest.get("counts") or {},
        "timings": manifest.get("timings") or {},
        "rules_ran": list(rules.get("ran") or []),
        "rules_skipped": list(rules.get("skipped") or []),
        "rules_broken": list(rules.get("broken") or []),
        "rule_titles": {code: getattr(r, "title", "") for code, r in catalogue.items()},
        "quarantine_rows": scan.quarantine_rows,
        "distribution": score_distribution(scan.scores),
        "alerts": alerts.head(MAX_ALERT_ROWS).to_dicts(),
        "n_alerts": alerts.height,
        "max_alert_rows": MAX_ALERT_ROWS,
        "n_cases": len(scan.cases),
    }
