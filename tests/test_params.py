"""Run settings: a value of the wrong shape is refused with its name and a hint,
before a scan starts its first stage."""

import pytest
from click.testing import CliRunner

from moneytrail.cli import main
from moneytrail.errors import ParamsError
from moneytrail.params import load_params, settings
from moneytrail.scoring import DEFAULTS as SCORING_DEFAULTS
from moneytrail.scoring import check_settings as check_scoring


def _settings(stage, defaults, *overrides, check=None):
    return settings(load_params(overrides=overrides), stage, defaults, check)


# Made-up settings of one stage, a setting of every shape.
DEFAULTS = {
    "count": 5,
    "share": 0.5,
    "window": "7d",
    "label": "average",
    "hours": [24, 48],
    "bands": [[27.5, 31.5]],
    "weights": {"rule": 1.0, "pattern": 1.0},
    "free": {},
    "optional": None,
    "flag": True,
}


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("features.count=abc", "features.count must be a whole number ≥ 0, not 'abc'"),
        ("features.count=-1", "features.count must be a whole number ≥ 0, not -1"),
        ("features.count=2.5", "features.count must be a whole number ≥ 0, not 2.5"),
        ("features.count=true", "features.count must be a whole number ≥ 0, not True"),
        ("features.share=x", "features.share must be a number ≥ 0, not 'x'"),
        ("features.share=.nan", "features.share must be a number ≥ 0"),
        ("features.window=x", "features.window must be a duration, not 'x'"),
        ("features.window=0d", "features.window must be a duration, not '0d'"),
        ("features.label=3", "features.label must be text, not 3"),
        ("features.hours=24", "features.hours must be a list, not 24"),
        ("features.hours=[24, x]", "features.hours[1] must be a whole number ≥ 0, not 'x'"),
        ("features.bands=[[27, x]]", "features.bands[0][1] must be a number ≥ 0, not 'x'"),
        ("features.weights=2", "features.weights must be a mapping, not 2"),
        ("features.weights={rules: 2}", "unknown features.weights key(s): rules"),
        ("features.weights={rule: x}", "features.weights.rule must be a number ≥ 0, not 'x'"),
        ("features.flag=1", "features.flag must be true or false, not 1"),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused_by_name(override, words):
    with pytest.raises(ParamsError) as caught:
        _settings("features", DEFAULTS, override)
    assert words in caught.value.message
    assert caught.value.hint


def test_values_of_the_right_shape_are_taken():
    got = _settings(
        "features", DEFAULTS, "features.count=7.0", "features.share=1", "features.window=36h",
        "features.hours=[12]", "features.free={HT-TIME-01: 0.5}", "features.optional=anything",
        "features.flag=false",
    )
    assert got["count"] == 7 and isinstance(got["count"], int)
    assert got["share"] == 1.0 and isinstance(got["share"], float)
    assert got["window"] == "36h" and got["hours"] == [12]
    assert got["free"] == {"HT-TIME-01": 0.5} and got["optional"] == "anything"
    assert got["flag"] is False
    assert got["label"] == "average"  # untouched: the default


def test_a_mapping_is_laid_over_its_default():
    # Changing one detector weight must not silently zero the others.
    got = _settings("scoring", SCORING_DEFAULTS, "scoring.detector_weights={rule: 2}")
    assert got["detector_weights"] == {"rule": 2.0, "pattern": 1.0, "outlier": 0.5}
    got = _settings("scoring", SCORING_DEFAULTS, "scoring.levels={critical: 0.9}")
    assert got["levels"] == {**SCORING_DEFAULTS["levels"], "critical": 0.9}


def test_the_stage_check_runs_with_the_settings():
    with pytest.raises(ParamsError, match="alert_level"):
        _settings("scoring", SCORING_DEFAULTS, "scoring.alert_level=urgent", check=check_scoring)
    with pytest.raises(ParamsError, match="not lower bounds"):
        _settings("scoring", SCORING_DEFAULTS, "scoring.levels={critical: 0.3}",
                  check=check_scoring)


def test_a_scan_refuses_bad_settings_before_it_reads_the_export(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("scoring: {rarity_floor: high}\n")
    export = tmp_path / "never_read.csv"  # does not exist: the settings fail first
    result = CliRunner().invoke(main, ["scan", str(export), "--params", str(params),
                                       "-o", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1
    assert "p.yaml" in result.output and "scoring.rarity_floor must be a number" in result.output
    assert "bug in moneytrail" not in result.output and "Traceback" not in result.output


def test_the_documented_overrides_name_real_rules_and_settings():
    # Users copy these lines from the README, the rule format and the CLI help.
    import re
    from pathlib import Path

    from moneytrail.params import STAGES
    from moneytrail.rules import load_rules

    root = Path(__file__).resolve().parents[1]
    text = "\n".join(
        (root / name).read_text(encoding="utf-8")
        for name in ("README.md", "rules/FORMAT.md", "src/moneytrail/cli/scan.py",
                     "src/moneytrail/params.py")
    )
    examples = set(re.findall(r"(?<![\w-])([A-Za-z][\w-]*)\.(\w+)=([\w.]+)", text))
    rules = load_rules()
    checked = 0
    for head, name, _ in examples:
        if head in STAGES:
            load_params(overrides=(f"{head}.{name}=1",))  # the section exists
            continue
        rule = rules.get(head)
        if rule is None and not re.fullmatch(r"[A-Z]+-[A-Z]+-\d+", head):
            continue  # not a rule code (e.g. a Python attribute in the help text)
        assert rule is not None, f"{head} is not a rule of the catalogue"
        assert name in rule.params, f"{head} has no param {name}"
        checked += 1
    assert checked >= 1
