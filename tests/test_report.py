"""The offline HTML case report and the explore page.

Most tests read the HTML as text; the Chromium tests open it in Debian's
headless chromium (driven by playwright, never a downloaded browser) and
check what an investigator sees: no errors, no network, charts with nodes,
evidence on click, hostile strings shown as text and never run.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from fixtures.report.outdir import (
    CONTROLLER,
    HOSTILE_ACCOUNT,
    HOSTILE_HOLDER,
    HOTEL,
    SCRIPT_MEMO,
    VICTIMS,
    make_outdir,
)

from moneytrail import schema as S
from moneytrail.cli import main
from moneytrail.errors import InputError
from moneytrail.report import explore, scan_in_memory, write_report
from moneytrail.report import html as report_html
from moneytrail.report.assets import safe_json
from moneytrail.report.casedata import case_bundles, focus
from moneytrail.report.scan_output import load_scan

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory) -> Path:
    outdir = make_outdir(tmp_path_factory.mktemp("scan"))
    write_report(outdir)
    return outdir


@pytest.fixture(scope="module")
def report_text(scan_dir) -> str:
    return (scan_dir / S.REPORT_FILE).read_text(encoding="utf-8")


def test_safe_json_cannot_close_the_script_element():
    value = {"memo": "</script><script>alert(1)</script>", "x": "a\u2028b\u2029c & <!--"}
    text = str(safe_json(value))
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == value


def test_report_is_one_offline_file_with_only_our_scripts(report_text):
    # exactly three script elements: the data block, vis-network, our own code
    assert len(re.findall(r"^<script\b", report_text, re.M)) == 3
    assert report_text.count("</script>") == 3
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", report_text)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', report_text)
    assert csp, "the page must carry a Content-Security-Policy"
    policy = html.unescape(csp.group(1))
    assert "default-src 'none'" in policy and "connect-src 'none'" in policy
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert "unsafe-inline" not in script_src and script_src.count("'sha256-") == 2
    assert "Almende" in report_text and "Apache-2.0" in report_text  # licence in the footer


def test_hostile_strings_are_escaped_in_the_markup(report_text):
    assert "<img src=x" not in report_text
    assert "<script>alert" not in report_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report_text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in report_text
    assert "<b>Sunrise</b>" not in report_text


def test_summary_alerts_and_cases_are_shown(report_text, scan_dir):
    for case_id in ("C00001", "C00002", "C00003"):
        assert f'id="case-{case_id}"' in report_text
    assert "HT-ADS-01" in report_text  # skipped rule and what it lacked
    assert "rows quarantined" in report_text
    assert CONTROLLER in report_text and "Karl Controller" in report_text
    pictures = sorted(p.name for p in (scan_dir / report_html.PICTURES_DIR).iterdir())
    assert pictures == ["C00001.png", "C00002.png", "C00003.png", "score_histogram.png"]
    for name in pictures:
        assert (scan_dir / report_html.PICTURES_DIR / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'href="report_files/C00001.png"' in report_text


def test_top_cases_in_full_and_the_rest_as_a_table(tmp_path):
    outdir = make_outdir(tmp_path / "scan")
    text = write_report(outdir, top_cases=1).read_text(encoding="utf-8")
    assert text.count('class="chart"') == 1
    assert 'id="case-C00001"' in text and 'id="case-C00002"' not in text
    rest = text[text.index('id="more-cases"'):]
    assert "C00002" in rest and "C00003" in rest


def test_embedded_transactions_are_capped_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(report_html, "MAX_CASE_TXNS", 10)
    outdir = make_outdir(tmp_path / "scan")
    text = write_report(outdir).read_text(encoding="utf-8")
    assert "Only the 10 largest transactions are embedded" in text
    data = json.loads(re.search(r'id="mt-data">(.*?)</script>', text, re.S).group(1))
    assert set(data["cases"]) == {"case-C00001", "case-C00002", "case-C00003"}


def test_big_cases_are_cut_for_the_chart_and_the_page_says_so():
    members = [{"id": f"M{i}", "member": True, "risk": i / 1000, "rank": 1000 - i}
               for i in range(500)]
    outside = [{"id": f"X{i}", "member": False, "risk": None, "rank": None} for i in range(50)]
    edges = [{"from": f"M{i}", "to": f"X{i % 50}", "n": 1, "total": float(i)}
             for i in range(500)]
    cut = focus({"nodes": members + outside, "edges": edges}, max_nodes=100)
    kept = {n["id"] for n in cut["nodes"]}
    assert len(kept) <= 100 and (cut["n_nodes_total"], cut["n_edges_total"]) == (550, 500)
    assert "M499" in kept and "M0" not in kept  # the riskiest members stay
    assert all(e["from"] in kept and e["to"] in kept for e in cut["edges"])
    small = {"nodes": members[:3], "edges": edges[:2]}
    assert focus(small, 100)["nodes"] == members[:3]


def test_bundles_cut_while_built_equal_full_bundles_cut_afterwards(tmp_path):
    # the report builds only the accounts a chart keeps; what it shows must be
    # what cutting the full bundle gives, and the page must still count them all
    outdir = make_outdir(tmp_path / "scan")
    doc = json.loads((outdir / S.CASES_FILE).read_text(encoding="utf-8"))
    ring = doc["cases"][0]
    members = [a["account_id"] for a in ring["accounts"]]
    ring["links"] = ring["links"] + [
        {"from": members[i % len(members)], "to": f"X{i}", "n": 1, "total": float(1 + i % 37),
         "first": None, "last": None}
        for i in range(400)
    ]
    (outdir / S.CASES_FILE).write_text(json.dumps(doc), encoding="utf-8")
    scan = load_scan(outdir)
    full = case_bundles(scan, scan.cases, 50, 50)
    cut = case_bundles(scan, scan.cases, 50, 50, max_nodes=30)
    assert cut == [focus(b, 30) for b in full]
    assert cut[0]["n_nodes_total"] == len(full[0]["nodes"]) > len(cut[0]["nodes"])
    assert cut[0]["n_edges_total"] == len(ring["links"])


def test_report_from_the_scan_in_memory_equals_the_report_read_back(tmp_path):
    from moneytrail.rules import default_rules_dir, load_rules
    from moneytrail.scan import run_scan
    from moneytrail.synth import generate

    generate(tmp_path / "export", n_accounts=500, days=45, seed=5)
    outdir = tmp_path / "scan"
    done = run_scan([tmp_path / "export" / "transactions.csv"], outdir,
                    accounts=tmp_path / "export" / "accounts.csv", report=False, progress=False)
    assert len(done.cases) >= 3
    read_back = write_report(outdir).read_bytes()
    pictures = {p.name: p.read_bytes() for p in (outdir / report_html.PICTURES_DIR).iterdir()}
    # rows in another order: ties between equal amounts or scores must not change the page
    transactions = done.ingested.transactions  # held, or lazily over the written file
    if isinstance(transactions, pl.LazyFrame):
        transactions = transactions.collect()
    shuffled = transactions.sample(fraction=1.0, shuffle=True, seed=3)
    held = scan_in_memory(
        outdir, manifest=done.manifest, cases=done.cases, scores=done.scores,
        alerts=done.alerts, evidence=done.evidence.sample(fraction=1.0, shuffle=True, seed=4),
        transactions=shuffled, accounts=done.ingested.accounts,
        quarantine_rows=done.ingested.quarantine.height,
        rules=load_rules(default_rules_dir()).rules,
    )
    assert write_report(outdir, scan=held).read_bytes() == read_back
    assert {p.name: p.read_bytes()
            for p in (outdir / report_html.PICTURES_DIR).iterdir()} == pictures


def test_case_pictures_draw_flows_loops_and_empty_cases(tmp_path):
    from moneytrail.report import pictures

    nodes = [{"id": f"A{i}", "label": HOSTILE_HOLDER if i == 0 else f"A{i}", "member": i < 3,
              "risk": 0.9 - i / 10, "role": "collector" if i == 0 else ""} for i in range(5)]
    edges = [{"from": f"A{i}", "to": f"A{(i + 1) % 5}", "total": 100.0 * (i + 1)}
             for i in range(5)] + [{"from": "A1", "to": "A1", "total": 50.0}]
    bundle = {"case_id": "C1", "nodes": nodes, "edges": edges, "total_value": 1550.0}
    drawn = pictures.case_network(bundle, tmp_path / "c1.png").read_bytes()
    empty = {"case_id": None, "nodes": [], "edges": [], "total_value": 0.0}
    blank = pictures.case_network(empty, tmp_path / "e.png").read_bytes()
    assert drawn.startswith(b"\x89PNG") and blank.startswith(b"\x89PNG")
    # flows, discs and labels make the picture of a case far richer than a blank one
    assert len(drawn) > 2 * len(blank)


@pytest.mark.parametrize("dump", [
    lambda doc: json.dumps(doc, indent=1),  # as the scan writes it
    lambda doc: json.dumps({"note": "x", **doc, "after": [1, {"cases": 2}]}, ensure_ascii=False),
])
def test_cases_are_read_one_at_a_time_and_decode_as_json_does(tmp_path, dump):
    from moneytrail.report.scan_output import CaseIndex, case_headers

    cases = [{"case_id": f"C{i}", "summary": f"Zoë ↔ {SCRIPT_MEMO} {i}", "score": i / 3,
              "links": [{"from": "A", "to": "B", "total": 1.5}] * i, "txn_ids": ["T1"],
              "accounts": [{"account_id": "A", "rank": None}], "shared_identifiers": []}
             for i in range(4)]
    path = tmp_path / S.CASES_FILE
    path.write_text(dump({"cases": cases}), encoding="utf-8")
    index = CaseIndex(path)
    assert len(index) == 4 and list(index) == cases and index[1:3] == cases[1:3]
    assert case_headers(index, 1, 9) == case_headers(cases, 1, 9)
    assert case_headers(index, 0, 1) == [{"case_id": "C0", "summary": cases[0]["summary"],
                                          "score": 0.0}]


@pytest.mark.parametrize(("text", "message"), [
    ("[]", "expected"), ("{}", "expected"), ('{"cases": {}}', "expected"),
    ('{"cases": [1]}', "case number 1 has no case_id"),
    ('{"cases": [{"case_id": "C1"},]}', "not valid JSON"),
    ('{"cases": []} trailing', "not valid JSON"), ("", "not valid JSON"),
])
def test_broken_cases_json_is_one_clear_error(tmp_path, text, message):
    from moneytrail.report.scan_output import CaseIndex

    path = tmp_path / S.CASES_FILE
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        CaseIndex(path)


def test_report_of_a_missing_scan_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="scan output folder not found"):
        write_report(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    result = CliRunner().invoke(main, ["report", str(tmp_path / "half")])
    assert result.exit_code == 1
    assert "manifest.json" in result.output and "Traceback" not in result.output


def test_cases_json_is_read_only_by_what_needs_it(tmp_path):
    outdir = make_outdir(tmp_path / "scan")
    (outdir / S.CASES_FILE).write_text('{"cases": [{"score": 1}]}', encoding="utf-8")
    # explore never looks at the cases
    assert explore(outdir, CONTROLLER, hops=1, out=tmp_path / "k1.html").exists()
    result = CliRunner().invoke(main, ["report", str(outdir)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cases.json" in result.output and "case number 1 has no case_id" in result.output


def test_report_command_rerenders(scan_dir):
    (scan_dir / S.REPORT_FILE).unlink()
    result = CliRunner().invoke(main, ["report", str(scan_dir)])
    assert result.exit_code == 0, result.output
    assert (scan_dir / S.REPORT_FILE).exists()


def test_explore_neighbourhood_by_hops_and_period(scan_dir, tmp_path):
    one_hop = explore(scan_dir, CONTROLLER, hops=1, out=tmp_path / "k1.html")
    data = _page_data(one_hop)
    nodes = {n["id"] for n in data["nodes"]}
    assert {CONTROLLER, HOTEL, S.CASH_NODE, *VICTIMS} <= nodes
    assert "ACC-B1" not in nodes  # the buyer never dealt with this ring
    assert (tmp_path / "k1_network.png").exists()
    # a window before any motel payment leaves the motel out
    early = explore(scan_dir, CONTROLLER, hops=1, until="2024-03-01T12:00",
                    out=tmp_path / "early.html")
    assert HOTEL not in {n["id"] for n in _page_data(early)["nodes"]}


def test_explore_unknown_account_and_bad_dates(scan_dir, tmp_path):
    with pytest.raises(InputError, match="no transactions"):
        explore(scan_dir, "NOPE", out=tmp_path / "x.html")
    with pytest.raises(InputError, match="not a date"):
        explore(scan_dir, CONTROLLER, since="last tuesday", out=tmp_path / "x.html")
    result = CliRunner().invoke(
        main, ["explore", HOSTILE_ACCOUNT, "--scan", str(scan_dir), "--hops", "2",
               "-o", str(tmp_path / "hostile.html")]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "hostile.html").read_text(encoding="utf-8")
    assert "<img src=x" not in text and "</script><script>alert(3)" not in text


def _page_data(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    block = re.search(r'id="mt-data">(.*?)</script>', text, re.S).group(1)
    return next(iter(json.loads(block)["cases"].values()))


# --------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _open(browser, path: Path):
    """Open a page and record console errors, requests and dialogs."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    seen = {"errors": [], "requests": [], "dialogs": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri())
    return context, page, seen


def _draw(page, anchor: str) -> int:
    chart = page.locator(f'.chart[data-case="{anchor}"]')
    chart.scroll_into_view_if_needed()
    page.wait_for_selector(f'.chart[data-case="{anchor}"][data-rendered-nodes]', timeout=15000)
    return int(chart.get_attribute("data-rendered-nodes"))


def test_report_renders_in_chromium_offline_and_safely(browser, scan_dir):
    context, page, seen = _open(browser, scan_dir / S.REPORT_FILE)
    try:
        assert _draw(page, "case-C00001") == 6  # controller, 3 victims, cash, motel
        assert page.locator('.chart[data-case="case-C00001"] canvas').count() == 1
        page.evaluate("window.mtDrawAll()")
        page.wait_for_timeout(500)
        # click the controller's node: the panel lists its evidence
        box = page.evaluate(
            """() => { const n = window.mtNetworks['case-C00001'];
                       const p = n.canvasToDOM(n.getPositions(['ACC-K1'])['ACC-K1']);
                       const r = n.body.container.getBoundingClientRect();
                       return {x: r.left + p.x, y: r.top + p.y}; }"""
        )
        page.mouse.click(box["x"], box["y"])
        panel = page.locator('[data-panel="case-C00001"]')
        panel.get_by_text("HT-P2P-01").wait_for(timeout=5000)
        assert SCRIPT_MEMO in panel.inner_text()  # the hostile reason is text
        # hostile strings are shown as text and never run
        body = page.inner_text("body")
        assert SCRIPT_MEMO in body and HOSTILE_HOLDER in body
        assert page.locator('img[src="x"]').count() == 0
        assert page.evaluate("document.querySelectorAll('script').length") == 3
        page.wait_for_timeout(300)
        assert seen["dialogs"] == []
        assert seen["errors"] == []
        others = [u for u in seen["requests"]
                  if u != (scan_dir / S.REPORT_FILE).resolve().as_uri()
                  and not u.startswith("data:")]
        assert others == []
    finally:
        context.close()


def test_explore_page_renders_in_chromium(browser, scan_dir, tmp_path):
    path = explore(scan_dir, HOSTILE_ACCOUNT, hops=2, out=tmp_path / "hostile.html")
    context, page, seen = _open(browser, path)
    try:
        assert _draw(page, "case-explore") >= 5
        assert HOSTILE_ACCOUNT in page.inner_text("body")
        assert page.locator('img[src="x"]').count() == 0
        assert seen["errors"] == [] and seen["dialogs"] == []
        assert [u for u in seen["requests"] if not u.startswith(("file:", "data:"))] == []
    finally:
        context.close()
