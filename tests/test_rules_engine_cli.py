"""The `moneytrail rules` commands over small fixture rule folders."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from moneytrail.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "rules_engine"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_check_passes_on_good_rules():
    result = invoke("rules", "check", "--rules", str(GOOD))
    assert result.exit_code == 0, result.output
    assert "7 rules OK" in result.output


def test_check_lists_every_problem_with_file_and_field_and_exits_1():
    result = invoke("rules", "check", "--rules", str(BROKEN))
    assert result.exit_code == 1
    out = result.output
    assert "bad_sql.yaml: where: bad SQL" in out
    assert "unknown_key.yaml: wher: unknown key 'wher'; did you mean 'where'?" in out
    assert "python_tag.yaml: YAML tag not allowed" in out
    assert "syntax.yaml: YAML syntax error at line" in out
    assert "undeclared.yaml: having: param {min_count} is used but not declared" in out
    assert "1 rules OK" in out  # the good rule among them still loads


def test_broken_files_never_stop_the_others_from_running():
    result = invoke("rules", "test", "--rules", str(BROKEN))
    assert "TEST-FINE-01" in result.output and "pass" in result.output
    assert "rule file problem(s)" in result.output
    assert result.exit_code == 1  # the broken files' tests could not run


def test_test_command_runs_all_examples():
    result = invoke("rules", "test", "--rules", str(GOOD))
    assert result.exit_code == 0, result.output
    assert "13 passed, 0 failed, 6 rules tested" in result.output


def test_test_command_fails_on_a_wrong_expectation(tmp_path):
    shutil.copy(GOOD / "struct.yaml", tmp_path / "struct.yaml")
    path = tmp_path / "struct.yaml"
    path.write_text(path.read_text().replace("every: 8d", "every: 1d"))
    result = invoke("rules", "test", "--rules", str(tmp_path))
    assert result.exit_code == 1
    assert "FAIL" in result.output and "should stay quiet" in result.output


def test_list_and_show():
    listed = invoke("rules", "list", "--rules", str(GOOD))
    assert listed.exit_code == 0
    assert "TEST-SEQ-01" in listed.output and "7 rules" in listed.output
    shown = invoke("rules", "show", "TEST-STRUCT-01", "--rules", str(GOOD))
    assert shown.exit_code == 0
    for text in ("threshold = 10000 (sourced)", "FIN-2020-A008", "small business", "within"):
        assert text in shown.output
    missing = invoke("rules", "show", "TEST-NOPE-01", "--rules", str(GOOD))
    assert missing.exit_code == 1 and "no rule 'TEST-NOPE-01'" in missing.output


def test_readme_is_written_and_checked(tmp_path):
    shutil.copytree(GOOD, tmp_path / "rules")
    folder = tmp_path / "rules"
    assert invoke("rules", "readme", "--rules", str(folder), "--check").exit_code == 1
    assert invoke("rules", "readme", "--rules", str(folder)).exit_code == 0
    text = (folder / "README.md").read_text()
    assert "| [TEST-STRUCT-01](struct.yaml) | Cash deposits just below" in text
    assert invoke("rules", "readme", "--rules", str(folder), "--check").exit_code == 0
