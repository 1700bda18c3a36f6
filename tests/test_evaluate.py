"""evaluate and the label readers, on hand-made scores and label files."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from moneytrail import schema as S
from moneytrail.cli import main
from moneytrail.errors import InputError
from moneytrail.evaluate import evaluate, read_case_of, read_scores
from moneytrail.labels import Labels, read_amlworld_patterns, read_labels


def scores_frame(ids_best_first: list[str], codes: dict[str, str] | None = None) -> pl.DataFrame:
    n = len(ids_best_first)
    codes = codes or {}
    return pl.DataFrame(
        {
            S.SC_ACCOUNT: ids_best_first,
            S.SC_RISK: [1.0 - i / n for i in range(n)],
            S.SC_RANK: list(range(1, n + 1)),
            S.SC_CODES: [codes.get(a, "") for a in ids_best_first],
        }
    )


def labels_of(rows: list[tuple[str, str, str, str | None]], lookalikes=()) -> Labels:
    positives = pl.DataFrame(
        rows,
        schema={
            S.LB_ACCOUNT: pl.String,
            S.LB_CASE: pl.String,
            S.LB_TYPOLOGY: pl.String,
            S.LB_ROLE: pl.String,
        },
        orient="row",
    )
    look = pl.DataFrame(
        {S.LB_ACCOUNT: list(lookalikes), "group": ["g"] * len(lookalikes)},
        schema={S.LB_ACCOUNT: pl.String, "group": pl.String},
    )
    return Labels(positives=positives, lookalikes=look, kind="test")


def test_perfect_ranking_scores_one_and_reversed_scores_low():
    ids = [f"a{i}" for i in range(10)]
    labels = labels_of([("a0", "c1", "fan_in", None), ("a1", "c1", "fan_in", None)])
    best = evaluate(scores_frame(ids), labels, ks=[2])
    assert best.average_precision == pytest.approx(1.0)
    assert best.roc_auc == pytest.approx(1.0)
    assert best.at(2)["precision"] == 1.0 and best.at(2)["recall"] == 1.0
    worst = evaluate(scores_frame(ids[::-1]), labels, ks=[2])
    assert worst.roc_auc == pytest.approx(0.0)
    # positives at ranks 9 and 10 of 10: AP = (1/9 + 2/10) / 2
    assert worst.average_precision == pytest.approx((1 / 9 + 2 / 10) / 2)
    assert worst.at(2)["hits"] == 0


def test_precision_recall_lookalikes_and_typology_recall_at_k():
    ids = ["p1", "n1", "l1", "p2", "n2", "p3", "l2", "n3"]
    labels = labels_of(
        [("p1", "c1", "cycle", None), ("p2", "c2", "fan_in", None), ("p3", "c2", "fan_in", None)],
        lookalikes=["l1", "l2"],
    )
    ev = evaluate(scores_frame(ids), labels, ks=[4])
    row = ev.at(4)
    assert row["hits"] == 2
    assert row["precision"] == pytest.approx(2 / 4)
    assert row["recall"] == pytest.approx(2 / 3)
    assert row["lookalikes_in_top_k"] == 1
    assert row["recall_by_typology"] == {"cycle": 1.0, "fan_in": 0.5}
    # k = 2x positives is always reported
    assert ev.k_2x == 6 and ev.at_2x["recall"] == 1.0 and ev.at_2x["lookalikes_in_top_k"] == 1
    typ = {r["typology"]: r for r in ev.typologies}
    assert typ["fan_in"]["positives"] == 2 and typ["fan_in"]["recall_at_2x"] == 1.0


def test_positive_the_scan_did_not_score_counts_as_worst():
    ids = ["a", "b", "c", "d"]
    labels = labels_of([("a", "c1", "cycle", None), ("zz", "c1", "cycle", None)])
    ev = evaluate(scores_frame(ids), labels, ks=[4])
    assert ev.n_positives == 2 and ev.n_positives_unranked == 1
    assert ev.at(4)["recall"] == 0.5
    # ranks 1 and 5 (below all four scored): AP = (1/1 + 2/5) / 2
    assert ev.average_precision == pytest.approx((1 + 2 / 5) / 2)
    case = ev.cases[0]
    assert case["best_rank"] == 1 and case["n_accounts"] == 2


def test_case_best_core_rank_ignores_victims():
    ids = ["v1", "x", "ctrl", "y", "buyer"]
    labels = labels_of(
        [
            ("v1", "c1", "controller_victims", "victim"),
            ("ctrl", "c1", "controller_victims", "controller"),
            ("buyer", "c2", "ocse_buyer", "buyer"),
        ]
    )
    ev = evaluate(scores_frame(ids), labels, ks=[3])
    cases = {c["case_id"]: c for c in ev.cases}
    assert cases["c1"]["best_rank"] == 1 and cases["c1"]["best_account"] == "v1"
    assert cases["c1"]["best_core_rank"] == 3 and cases["c1"]["best_core_account"] == "ctrl"
    assert cases["c2"]["best_core_rank"] == 5
    assert ev.case_summary["cases_with_core_in_top_k"]["3"] == 1
    assert ev.case_summary["worst_best_core_rank"] == 5
    # ranks: v1 (positive, victim) 1, x 2, ctrl 3, y 4, buyer 5. Unlabelled accounts
    # above ctrl: x; above buyer: x and y. The victim is a find, not a false alarm.
    assert cases["c1"]["false_alarms_ahead"] == 1
    assert cases["c2"]["false_alarms_ahead"] == 2
    assert ev.case_summary["cases_with_under_20_false_alarms_ahead"] == 2
    assert ev.case_summary["cases_with_core_in_a_scan_case"] is None  # no alerts given
    # only the victim of c1 is in a scan case: that does not count as finding c1
    case_of = pl.DataFrame({S.SC_ACCOUNT: ["v1", "buyer", "x"], S.SC_CASE: ["K1", "K2", None]})
    ev = evaluate(scores_frame(ids), labels, ks=[3], case_of=case_of)
    cases = {c["case_id"]: c for c in ev.cases}
    assert not cases["c1"]["core_in_scan_case"] and cases["c2"]["core_in_scan_case"]
    assert ev.case_summary["cases_with_core_in_a_scan_case"] == 1


def test_case_list_position_counts_scan_cases_without_labelled_accounts(tmp_path):
    ids = ["v1", "x", "ctrl", "y", "buyer", "z", "w"]
    labels = labels_of(
        [
            ("v1", "c1", "controller_victims", "victim"),
            ("ctrl", "c1", "controller_victims", "controller"),
            ("buyer", "c2", "ocse_buyer", "buyer"),
        ]
    )
    # the scan lists its cases K3, K1, K2, K4, K5 (by case score, not by id)
    out = tmp_path / "out"
    out.mkdir()
    alerts = {"x": "K3", "v1": "K1", "w": "K1", "ctrl": "K2", "y": "K4", "buyer": "K5", "z": ""}
    pl.DataFrame(
        {S.SC_ACCOUNT: list(alerts), S.SC_RISK: [0.9] * 7, S.SC_CASE: list(alerts.values())}
    ).write_csv(out / S.ALERTS_FILE)
    listed = [{"case_id": c, "score": 1.0, "accounts": [], "links": []}
              for c in ("K3", "K1", "K2", "K4", "K5")]
    (out / S.CASES_FILE).write_text(json.dumps({"cases": listed}))
    case_of = read_case_of(out)
    ev = evaluate(scores_frame(ids), labels, ks=[3], case_of=case_of)
    cases = {c["case_id"]: c for c in ev.cases}
    # c1's core (ctrl) is in the third case listed; ahead of it K3 holds no
    # labelled account (a false case) and K1 holds c1's victim (a find)
    assert cases["c1"]["scan_case_position"] == 3 and cases["c1"]["false_cases_ahead"] == 1
    # c2's buyer is in K5, behind the false cases K3 and K4
    assert cases["c2"]["scan_case_position"] == 5 and cases["c2"]["false_cases_ahead"] == 2
    assert ev.case_summary["cases_under_budget_false_cases_ahead"] == 2
    assert ev.case_summary["median_scan_case_position"] == 4
    # the reading it takes: unlabelled accounts in the cases up to and including
    # the one reached (x in K3, w beside the victim in K1, none in K2 / then y in
    # K4, none in K5)
    assert cases["c1"]["unlabelled_read"] == 2 and cases["c2"]["unlabelled_read"] == 3
    assert ev.case_summary["cases_with_under_20_unlabelled_read"] == 2
    assert ev.case_summary["median_unlabelled_read"] == 2.5
    # without cases.json the case order is unknown and the view is left out
    (out / S.CASES_FILE).unlink()
    ev = evaluate(scores_frame(ids), labels, ks=[3], case_of=read_case_of(out))
    assert ev.cases[0]["false_cases_ahead"] is None and ev.cases[0]["unlabelled_read"] is None
    assert ev.case_summary["cases_under_budget_false_cases_ahead"] is None


def test_rank_taken_from_risk_when_scores_have_no_rank_column():
    frame = pl.DataFrame({S.SC_ACCOUNT: ["a", "b", "c"], S.SC_RISK: [0.1, 0.9, 0.5]})
    ev = evaluate(frame, labels_of([("b", "c1", "cycle", None)]), ks=[1])
    assert ev.at(1)["hits"] == 1


def test_code_diagnostics_name_what_hits_and_misses_carry():
    ids = ["p1", "n1", "n2", "n3", "p2"]
    codes = {"p1": "fan_in;HT-X-01", "n1": "HT-X-01", "p2": ""}
    labels = labels_of([("p1", "c1", "fan_in", None), ("p2", "c2", "fan_in", None)])
    ev = evaluate(scores_frame(ids, codes), labels, ks=[2])
    by_code = {row["code"]: row for row in ev.codes}
    assert by_code["fan_in"]["precision"] == 1.0 and by_code["fan_in"]["positives"] == 1
    assert by_code["HT-X-01"]["precision"] == 0.5
    diag = ev.diagnostics["typologies"]["fan_in"]
    # k_2x = 4: p1 is a hit, p2 (rank 5, no evidence) a miss
    assert diag["hits"] == 1 and diag["misses"] == 1
    assert diag["misses_without_evidence"] == 1.0
    assert {c["code"] for c in diag["hit_codes"]} == {"fan_in", "HT-X-01"}


def test_feature_table_ranks_the_separating_feature_first():
    ids = [f"a{i}" for i in range(20)]
    positives = {"a0", "a1", "a2"}
    features = pl.DataFrame(
        {
            S.ACCOUNT_ID: ids,
            "noise": [float((i * 7) % 5) for i in range(20)],
            "tell": [10.0 if a in positives else 1.0 for a in ids],
        }
    )
    labels = labels_of([(a, "c", "cycle", None) for a in sorted(positives)])
    ev = evaluate(scores_frame(ids), labels, features=features)
    assert ev.features[0]["feature"] == "tell" and ev.features[0]["roc_auc"] == 1.0


# --------------------------------------------------------------------------
# label readers
# --------------------------------------------------------------------------
def test_amlsim_alert_accounts(tmp_path):
    path = tmp_path / "alert_accounts.csv"
    path.write_text(
        "alert_id,alert_type,acct_id,acct_name,is_sar,model_id,start,end,schedule_id,bank_id\n"
        "0,fan_in,10,10,True,2,0,1,2,bank_a\n"
        "0,fan_in,11,11,True,2,0,1,2,bank_a\n"
        "1,cycle,12,12,True,3,0,1,2,bank_a\n"
        "7,fan_out,20,20,False,1,0,1,2,bank_a\n"
    )
    labels = read_labels(path)
    assert labels.kind == "amlsim"
    assert labels.positive_ids.to_list() == ["10", "11", "12"]
    assert labels.typologies == ["cycle", "fan_in"]
    assert labels.lookalikes.get_column(S.LB_ACCOUNT).to_list() == ["20"]
    assert set(labels.positives.get_column(S.LB_CASE)) == {"alert 0", "alert 1"}


def test_amlsim_bad_flag_names_row_and_column(tmp_path):
    path = tmp_path / "alert_accounts.csv"
    path.write_text("alert_id,alert_type,acct_id,is_sar\n0,fan_in,1,True\n0,fan_in,2,maybe\n")
    with pytest.raises(InputError) as info:
        read_labels(path)
    assert info.value.row == 2 and info.value.column == "is_sar"


def test_amlsim_2019_nodes_take_typology_from_folder(tmp_path):
    for folder, typology in [("20K_cycle200", "cycle"), ("20K_fanin200cycle200", "unknown")]:
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "nodes.csv"
        path.write_text("nodeid,isFraud,init_balance,fraudStep\n0,0,1.0,-1\n1,1,1.0,3\n2,1,1,-1\n")
        labels = read_labels(tmp_path / folder)  # a folder finds its label file
        assert labels.kind == "amlsim-2019"
        assert labels.positive_ids.to_list() == ["1", "2"]
        assert labels.typologies == [typology]
        assert sorted(labels.universe.to_list()) == ["0", "1", "2"]


def test_generator_labels_with_lookalikes(tmp_path):
    (tmp_path / "labels.csv").write_text(
        "account_id,case_id,typology,role\nA1,C1,collector,collector\nA2,C1,collector,victim\n"
    )
    (tmp_path / "lookalikes.csv").write_text("account_id,group\nB1,cash_business\nA1,student\n")
    labels = read_labels(tmp_path / "labels.csv")
    assert labels.kind == "generator"
    # an account that is positive is not a look-alike
    assert labels.lookalikes.get_column(S.LB_ACCOUNT).to_list() == ["B1"]


AMLWORLD_HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
    "Amount Paid,Payment Currency,Payment Format,Is Laundering\n"
)


def test_amlworld_transactions_with_patterns(tmp_path):
    trans = tmp_path / "HI-Tiny_Trans.csv"
    trans.write_text(
        AMLWORLD_HEADER
        + "2022/09/01 00:09,00220,801,004523,802,5.0,US Dollar,5.0,US Dollar,ACH,1\n"
        + "2022/09/01 00:10,00220,803,0070,804,5.0,US Dollar,5.0,US Dollar,ACH,0\n"
        + "2022/09/01 00:11,011,805,011,806,5.0,US Dollar,5.0,US Dollar,ACH,1\n"
    )
    (tmp_path / "HI-Tiny_Patterns.txt").write_text(
        "BEGIN LAUNDERING ATTEMPT - FAN-OUT:  Max 4-degree Fan-Out\n"
        "2022/09/01 00:09,00220,801,004523,802,5.0,US Dollar,5.0,US Dollar,ACH,1\n"
        "END LAUNDERING ATTEMPT - FAN-OUT\n\n"
    )
    labels = read_labels(trans)
    assert labels.kind == "transactions"
    # bank codes keep their leading zeros; the id is "<bank>:<account>"
    assert labels.positive_ids.to_list() == ["00220:801", "004523:802", "011:805", "011:806"]
    by_account = dict(labels.positives.select(S.LB_ACCOUNT, S.LB_TYPOLOGY).iter_rows())
    assert by_account["00220:801"] == "fan_out" and by_account["011:805"] == "unknown"
    assert labels.universe.len() == 6


def test_amlworld_patterns_file_numbers_attempts():
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / "evaluate" / "amlworld_hi_small_patterns.txt"
    attempts = read_amlworld_patterns(path)
    per_case = attempts.group_by(S.LB_CASE).agg(pl.col(S.LB_TYPOLOGY).first())
    assert per_case.height == 8
    assert set(per_case.get_column(S.LB_TYPOLOGY)) == {
        "bipartite",
        "stack",
        "scatter_gather",
        "fan_out",
        "gather_scatter",
        "cycle",
        "fan_in",
        "random",
    }


def test_canonical_transactions_parquet_labels(tmp_path):
    path = tmp_path / "transactions.parquet"
    pl.DataFrame(
        {
            S.FROM_ACCOUNT: ["A", "CASH", "C", "D"],
            S.TO_ACCOUNT: ["B", "A", "D", "E"],
            S.IS_LAUNDERING: [True, True, False, None],
            S.TYPOLOGY: ["funnel", "funnel", None, None],
        }
    ).write_parquet(path)
    labels = read_labels(path)
    assert labels.positive_ids.to_list() == ["A", "B"]  # the cash node is never an account
    assert labels.typologies == ["funnel"]


def test_unknown_label_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(InputError, match="cannot tell"):
        read_labels(path)
    path.write_text("account_id,case_id,typology,role\n")
    with pytest.raises(InputError, match="no positive"):
        read_labels(path)


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------
def _write_scan(outdir, ids):
    outdir.mkdir()
    scores_frame(ids, {"a0": "fan_in"}).with_columns(
        pl.lit("none").alias(S.SC_LEVEL),
        pl.lit("").alias(S.SC_ROLE),
        pl.lit(0).alias(S.SC_N_EVIDENCE),
        pl.lit("").alias(S.SC_REASONS),
    ).select(S.SCORE_COLUMNS).write_csv(outdir / S.SCORES_FILE)


def test_cli_prints_tables_and_json(tmp_path):
    ids = ["007", "a0", "b", "c"]  # a leading-zero id stays a string
    _write_scan(tmp_path / "out", ids)
    (tmp_path / "labels.csv").write_text("account_id,case_id,typology,role\n007,C1,cycle,\n")
    runner = CliRunner()
    args = ["evaluate", str(tmp_path / "out"), "--labels", str(tmp_path / "labels.csv")]
    result = runner.invoke(main, args + ["--k", "1,2"])
    assert result.exit_code == 0, result.output
    assert "average precision" in result.output and "recall cycle" in result.output
    result = runner.invoke(main, args + ["--json"])
    data = json.loads(result.output)
    assert data["average_precision"] == pytest.approx(1.0)
    assert data["at_2x"]["k"] == 2 and data["cases"][0]["best_rank"] == 1


def test_cli_errors_are_one_message(tmp_path):
    runner = CliRunner()
    (tmp_path / "labels.csv").write_text("account_id,case_id,typology,role\nA,C1,cycle,\n")
    result = runner.invoke(
        main, ["evaluate", str(tmp_path), "--labels", str(tmp_path / "labels.csv")]
    )
    assert result.exit_code == 1 and "no scores file" in result.output
    _write_scan(tmp_path / "out", ["A", "B"])
    result = runner.invoke(
        main,
        ["evaluate", str(tmp_path / "out"), "--labels", str(tmp_path / "labels.csv"), "--k", "0"],
    )
    assert result.exit_code == 1 and "positive numbers" in result.output
    assert "Traceback" not in result.output


def test_read_scores_names_bad_number(tmp_path):
    path = tmp_path / S.SCORES_FILE
    path.write_text("account_id,risk_score,rank\nA,0.5,1\nB,high,2\n")
    with pytest.raises(InputError) as info:
        read_scores(path)
    assert info.value.row == 2 and info.value.column == S.SC_RISK


def test_average_precision_follows_the_presented_order_of_tied_accounts():
    # equal risk for all three; the scan presented the positive first, then last
    labels = labels_of([("p", "c1", "cycle", None)])
    first = pl.DataFrame({S.SC_ACCOUNT: ["p", "x", "y"], S.SC_RISK: [0.0] * 3,
                          S.SC_RANK: [1, 2, 3]})
    last = first.with_columns(pl.Series(S.SC_RANK, [3, 1, 2]))
    assert evaluate(first, labels, ks=[1]).average_precision == pytest.approx(1.0)
    assert evaluate(last, labels, ks=[1]).average_precision == pytest.approx(1 / 3)
