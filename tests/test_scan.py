"""`moneytrail scan` end to end on a small generated export: the OUTDIR contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from moneytrail import schema as S
from moneytrail.cli import main
from moneytrail.rules import default_rules_dir
from moneytrail.synth import generate


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    generate(out, n_accounts=500, days=60, seed=11)
    return out


@pytest.fixture(scope="module")
def scanned(export, tmp_path_factory) -> tuple[Path, object]:
    outdir = tmp_path_factory.mktemp("scan")
    result = CliRunner().invoke(
        main,
        [
            "scan", str(export / "transactions.csv"), "--accounts", str(export / "accounts.csv"),
            "-o", str(outdir), "--no-report", "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return outdir, result


def test_outdir_holds_every_output(scanned):
    outdir, _ = scanned
    for name in (S.SCORES_FILE, S.ALERTS_FILE, S.EVIDENCE_FILE, S.CASES_FILE, S.QUARANTINE_FILE,
                 S.MANIFEST_FILE, S.TRANSACTIONS_FILE, S.ACCOUNTS_FILE, S.FEATURES_FILE):
        assert (outdir / name).is_file(), name
    assert not (outdir / S.REPORT_FILE).exists()  # --no-report


def test_scores_rank_every_account_and_alerts_are_a_subset(scanned):
    outdir, _ = scanned
    scores = pl.read_csv(outdir / S.SCORES_FILE, infer_schema_length=0)
    assert tuple(scores.columns) == S.SCORE_COLUMNS
    ranks = scores[S.SC_RANK].cast(pl.Int64).to_list()
    assert ranks == list(range(1, scores.height + 1))
    risks = scores[S.SC_RISK].cast(pl.Float64)
    assert risks.is_sorted(descending=True)
    assert risks.min() >= 0.0 and risks.max() <= 1.0
    # every customer account of the export is scored, the cash node never
    ids = set(scores[S.SC_ACCOUNT].to_list())
    assert S.CASH_NODE not in ids
    alerts = pl.read_csv(outdir / S.ALERTS_FILE, infer_schema_length=0)
    assert set(alerts[S.SC_ACCOUNT].to_list()) <= ids
    assert S.SC_CASE in alerts.columns
    assert alerts.height < scores.height


def test_evidence_and_cases_follow_the_contract(scanned):
    outdir, _ = scanned
    evidence = pl.read_parquet(outdir / S.EVIDENCE_FILE)
    assert evidence.schema == pl.Schema(S.EVIDENCE_SCHEMA)
    assert set(evidence[S.EV_DETECTOR].unique().to_list()) <= set(S.DETECTORS)
    cases = json.loads((outdir / S.CASES_FILE).read_text())["cases"]
    alerts = pl.read_csv(outdir / S.ALERTS_FILE, infer_schema_length=0)
    in_cases = {a["account_id"] for case in cases for a in case["accounts"]}
    assert in_cases == set(alerts[S.SC_ACCOUNT].to_list())
    scores = [case["score"] for case in cases]
    assert scores == sorted(scores, reverse=True)
    for case in cases[:5]:
        assert case["summary"] and case["n_accounts"] == len(case["accounts"])
        assert case["total_value"] >= 0


def test_manifest_accounts_for_every_row(scanned, export):
    outdir, result = scanned
    manifest = json.loads((outdir / S.MANIFEST_FILE).read_text())
    for item in manifest["inputs"]:
        assert item["rows_read"] == item["rows_accepted"] + item["rows_quarantined"]
        assert len(item["sha256"]) == 64
    assert manifest["profile"] == "canonical" and manifest["profile_detected"]
    assert manifest["rules"]["ran"] and not manifest["rules"]["broken"]
    assert set(manifest["timings"]) >= {"ingest", "features", "rules", "patterns", "outliers",
                                        "scoring", "cases", "write"}
    # peak memory per stage: a high-water mark, so it never falls from one stage to the next
    peaks = [manifest["peak_rss_mb"][name] for name in manifest["timings"]]
    assert len(peaks) == len(manifest["timings"]) and peaks[0] > 0
    assert peaks == sorted(peaks)
    assert manifest["counts"]["transactions"] == pl.read_parquet(
        outdir / S.TRANSACTIONS_FILE).height
    assert "rules run" in result.output
    # the summary names the case an analyst opens first
    first_case = json.loads((outdir / S.CASES_FILE).read_text())["cases"][0]
    summary = result.output[result.output.index("top cases"):]
    first_row = next(line for line in summary.splitlines() if line.startswith("│"))
    assert first_case["case_id"] in first_row


def test_broken_rule_file_is_reported_and_the_rest_still_run(export, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    (rules / "broken.yaml").write_text("id: HT-BROKEN-01\ntitle: [unclosed\n")
    outdir = tmp_path / "scan"
    result = CliRunner().invoke(
        main,
        ["scan", str(export / "transactions.csv"), "--rules", str(rules), "-o", str(outdir),
         "--no-report", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((outdir / S.MANIFEST_FILE).read_text())
    assert [Path(b["path"]).name for b in manifest["rules"]["broken"]] == ["broken.yaml"]
    assert len(manifest["rules"]["ran"]) > 10
    assert "broken.yaml" in result.output


def test_fail_on_exits_3_when_an_alert_reaches_the_level(export, tmp_path):
    args = ["scan", str(export / "transactions.csv"), "--accounts", str(export / "accounts.csv"),
            "-o", str(tmp_path / "scan"), "--no-report", "--quiet", "--fail-on", "low"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output


def test_bad_params_are_one_clear_error(export, tmp_path):
    result = CliRunner().invoke(
        main,
        ["scan", str(export / "transactions.csv"), "-o", str(tmp_path / "s"), "--quiet",
         "--param", "scoring.no_such_setting=1"],
    )
    assert result.exit_code == 1
    assert "unknown scoring setting" in result.output
    assert "Traceback" not in result.output


def test_same_export_in_another_row_order_gives_the_same_results(scanned, export, tmp_path):
    """An analyst re-running a scan, or a bank exporting rows in another order,
    must get the same ranking, evidence and cases, byte for byte."""
    outdir, _ = scanned
    shuffled = tmp_path / "shuffled.csv"
    pl.read_csv(export / "transactions.csv", infer_schema=False).sample(
        fraction=1.0, shuffle=True, seed=5
    ).write_csv(shuffled)
    again = tmp_path / "again"
    result = CliRunner().invoke(
        main,
        ["scan", str(shuffled), "--accounts", str(export / "accounts.csv"), "-o", str(again),
         "--no-report", "--quiet"],
    )
    assert result.exit_code == 0, result.output
    for name in (S.SCORES_FILE, S.ALERTS_FILE, S.CASES_FILE, S.EVIDENCE_FILE):
        assert (again / name).read_bytes() == (outdir / name).read_bytes(), name


def test_day_resolution_export_in_another_row_order_gives_the_same_results(tmp_path):
    """Exports stamped by day (AMLSim's) hold many transfers at the same time;
    which of them a detector meets first must not depend on the row order."""
    source = Path(__file__).parent / "fixtures" / "evaluate" / "amlsim_excerpt_transactions.csv"
    shuffled = tmp_path / "shuffled.csv"
    pl.read_csv(source, infer_schema=False).sample(fraction=1.0, shuffle=True, seed=0).write_csv(
        shuffled
    )
    outputs = []
    for name, path in (("first", source), ("again", shuffled)):
        outdir = tmp_path / name
        result = CliRunner().invoke(
            main, ["scan", str(path), "-o", str(outdir), "--no-report", "--quiet"]
        )
        assert result.exit_code == 0, result.output
        outputs.append(outdir)
    for name in (S.SCORES_FILE, S.ALERTS_FILE, S.CASES_FILE, S.EVIDENCE_FILE):
        assert (outputs[1] / name).read_bytes() == (outputs[0] / name).read_bytes(), name
