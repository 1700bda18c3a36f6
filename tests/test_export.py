"""Exports of a scan: goAML drafts, SAR narratives, i2 CSVs, GEXF/GraphML, FtM."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx
import polars as pl
import pytest
from click.testing import CliRunner
from fixtures.report.outdir import CONTROLLER, HOSTILE_ACCOUNT, VICTIMS, make_outdir

from moneytrail.cli import main
from moneytrail.errors import InputError
from moneytrail.report import export
from moneytrail.report.exports import goaml, i2
from moneytrail.report.exports._common import safe_cell
from moneytrail.report.exports.ftm import check_entity
from moneytrail.report.exports.sar import KEY_TERM


@pytest.fixture(scope="module")
def scan_dir(tmp_path_factory) -> Path:
    return make_outdir(tmp_path_factory.mktemp("scan"))


@pytest.fixture(scope="module")
def cases(scan_dir) -> dict[str, dict]:
    doc = json.loads((scan_dir / "cases.json").read_text(encoding="utf-8"))
    return {c["case_id"]: c for c in doc["cases"]}


def test_goaml_drafts_parse_and_follow_the_profile_structure(scan_dir, cases, tmp_path):
    paths = export(scan_dir, "goaml", tmp_path)
    assert [p.name for p in paths] == ["goaml_C00001.xml", "goaml_C00002.xml",
                                       "goaml_C00003.xml"]
    profile = goaml.load_profile(None)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "DRAFT goAML report" in text
        root = ET.fromstring(text.encode("utf-8"))
        assert root.tag == "report"
        assert goaml.check_structure(root, profile) == []
        header = [c.tag for c in root][:4]
        assert header == ["rentity_id", "submission_code", "report_code", "entity_reference"]
        case = cases[path.stem.removeprefix("goaml_")]
        numbers = [t.findtext("transactionnumber") for t in root.iter("transaction")]
        assert sorted(numbers) == sorted(case["txn_ids"])
    ring = ET.parse(paths[0]).getroot()
    assert KEY_TERM in ring.findtext("reason")
    assert [i.text for i in ring.iter("indicator")][:1] == ["HT"]
    # cash deposits come from an entity, never from an invented account
    cash = [t for t in ring.iter("transaction") if t.findtext("transmode_code") == "K"]
    assert cash and all(t.find("t_from/from_entity") is not None
                        or t.find("t_to/to_entity") is not None for t in cash)
    # the filer's own customers (in the accounts table) are t_*_my_client
    assert ring.find("transaction/t_to_my_client/to_account") is not None


def test_goaml_structure_check_catches_order_and_missing_elements(scan_dir, tmp_path):
    profile = goaml.load_profile("generic")
    path = export(scan_dir, "goaml", tmp_path, cases=["C00002"])[0]
    root = ET.parse(path).getroot()
    first = root[0]
    root.remove(first)
    root.insert(3, first)  # rentity_id out of order
    problems = goaml.check_structure(root, profile)
    assert any("rentity_id" in p for p in problems)
    txn = root.find("transaction")
    txn.remove(txn.find("amount_local"))
    assert any("amount_local" in p for p in goaml.check_structure(root, profile))


def test_goaml_profile_file_drives_codes(scan_dir, tmp_path):
    text = (Path(goaml.__file__).parents[2] / "export_profiles" / "generic.yaml").read_text()
    custom = tmp_path / "fiu.yaml"
    custom.write_text(
        text.replace('rentity_id: "0"', 'rentity_id: "4711"')
        .replace("report_code: STR", "report_code: SAR")
        .replace("by_code: {}", "by_code: {HT-P2P-01: FIU-HT-7}"),
        encoding="utf-8",
    )
    path = export(scan_dir, "goaml", tmp_path / "out", profile=str(custom), cases=["C00001"])[0]
    root = ET.parse(path).getroot()
    assert root.findtext("rentity_id") == "4711" and root.findtext("report_code") == "SAR"
    assert "FIU-HT-7" in [i.text for i in root.iter("indicator")]
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nrentity_id: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="profile lacks"):
        export(scan_dir, "goaml", tmp_path / "out2", profile=str(broken))
    with pytest.raises(InputError, match="not found"):
        export(scan_dir, "goaml", tmp_path / "out3", profile="no_such_fiu")


def test_sar_narrative_names_subjects_not_victims(scan_dir, tmp_path):
    paths = {p.stem: p.read_text(encoding="utf-8") for p in export(scan_dir, "sar", tmp_path)}
    ring = paths["sar_C00001"]
    assert KEY_TERM in ring and "38(h)" in ring
    who = ring[ring.index("\nWHO\n"):ring.index("\nWHAT\n")]
    subjects = who[:who.index("Possible victims")]
    assert CONTROLLER in subjects
    for victim in VICTIMS:
        assert victim not in subjects
    victims_line = " ".join(who[who.index("Possible victims"):].split())
    assert all(v in victims_line for v in VICTIMS)
    for section in ("WHAT", "WHEN", "WHERE", "WHY", "HOW", "TOTALS AND RECORDS"):
        assert f"\n{section}\n" in ring
    assert "19,232.00 USD" in ring  # the case total
    assert KEY_TERM not in paths["sar_C00003"]  # a plain laundering cycle


def test_i2_entities_and_links(scan_dir, cases, tmp_path):
    entities_path, links_path = export(scan_dir, "i2", tmp_path)
    entities = pl.read_csv(entities_path, infer_schema=False)
    links = pl.read_csv(links_path, infer_schema=False)
    assert tuple(entities.columns) == i2.ENTITY_COLUMNS
    assert tuple(links.columns) == i2.LINK_COLUMNS
    assert links.height == sum(len(c["txn_ids"]) for c in cases.values())
    ids = set(entities["entity_id"].to_list())
    assert set(links["from_entity_id"].to_list()) | set(links["to_entity_id"].to_list()) <= ids
    assert HOSTILE_ACCOUNT in ids
    victim_rows = entities.filter(pl.col("entity_id").is_in(VICTIMS))
    assert victim_rows["suspected_victim"].to_list() == ["yes"] * len(VICTIMS)
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("ok") == "ok"


@pytest.mark.parametrize("fmt, reader", [("gexf", nx.read_gexf), ("graphml", nx.read_graphml)])
def test_case_graphs_read_back_with_networkx(scan_dir, cases, tmp_path, fmt, reader):
    paths = export(scan_dir, fmt, tmp_path)
    assert len(paths) == len(cases)
    graph = reader(paths[0])
    links = cases["C00001"]["links"]
    assert graph.number_of_edges() == len(links)
    assert graph.has_node(HOSTILE_ACCOUNT)
    total = sum(float(d["total"]) for *_, d in graph.edges(data=True))
    assert total == pytest.approx(sum(link["total"] for link in links))
    assert graph.nodes[CONTROLLER]["role"] == "controller"


def test_ftm_lines_are_valid_entities_with_resolvable_references(scan_dir, cases, tmp_path):
    (path,) = export(scan_dir, "ftm", tmp_path)
    entities = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert all(check_entity(e) == [] for e in entities)
    by_id = {e["id"]: e for e in entities}
    payments = [e for e in entities if e["schema"] == "Payment"]
    assert len(payments) == sum(len(c["txn_ids"]) for c in cases.values())
    for pay in payments:
        for prop in ("payer", "beneficiary", "payerAccount", "beneficiaryAccount"):
            for ref in pay["properties"].get(prop, []):
                assert ref in by_id, f"{prop} {ref} does not resolve"
    schemas = {e["schema"] for e in entities}
    assert {"Person", "Company", "BankAccount", "Payment", "Ownership"} <= schemas
    assert check_entity({"id": "x", "schema": "Payment", "properties": {"amount": ["1"]}})


def test_export_command_and_its_errors(scan_dir, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(scan_dir), "--format", "sar", "-o",
                                  str(tmp_path / "sar"), "--top-cases", "1"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "sar").iterdir()] == ["sar_C00001.txt"]
    result = runner.invoke(main, ["export", str(scan_dir), "--format", "pdf", "-o",
                                  str(tmp_path / "x")])
    assert result.exit_code == 2
    result = runner.invoke(main, ["export", str(scan_dir), "--format", "i2", "--case", "C9",
                                  "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and "unknown case id" in result.output
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    result = runner.invoke(main, ["export", str(scan_dir), "--format", "ftm", "-o", str(afile)])
    assert result.exit_code == 1 and "must be a folder" in result.output
