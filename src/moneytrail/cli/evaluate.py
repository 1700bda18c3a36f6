"""Commands: evaluate (a scan's ranking against ground-truth labels)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from moneytrail.cli.common import out
from moneytrail.errors import InputError
from moneytrail.evaluate import DEFAULT_KS, Evaluation, evaluate_outdir
from moneytrail.labels import KINDS, LOOKALIKE_GROUP

# The CLI prints the worst cases and the most telling features, not all of them;
# --json carries everything.
SHOWN_CASES = 10
SHOWN_FEATURES = 12
SHOWN_CODES = 15


def _parse_ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(
            f"--k {text!r} is not a comma list of whole numbers", hint="e.g. --k 50,100,500"
        ) from None
    if not ks or any(k <= 0 for k in ks):
        raise InputError(f"--k {text!r} needs positive numbers", hint="e.g. --k 50,100,500")
    return ks


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(ev: Evaluation, all_cases: bool = False) -> None:
    """Print an evaluation as tables on stdout."""
    head = Table(title="Detection quality (account level)", title_justify="left")
    head.add_column("measure")
    head.add_column("value", justify="right")
    head.add_row("accounts ranked", f"{ev.n_accounts:,}")
    head.add_row("labelled positives", f"{ev.n_positives:,}")
    head.add_row("positives the scan did not rank", f"{ev.n_positives_unranked:,}")
    head.add_row("labelled look-alikes", f"{ev.n_lookalikes:,}")
    head.add_row("average precision", _num(ev.average_precision))
    head.add_row("ROC-AUC", _num(ev.roc_auc))
    out.print(head)
    out.print(f"labels ({ev.labels_kind}): {ev.labels_source}")

    # One column per k keeps the table narrow however many typologies there are.
    typologies = sorted({t for row in ev.at_k for t in row["recall_by_typology"]})
    at_k = Table(title="At k (review budget; 2x = twice the positives)", title_justify="left")
    at_k.add_column("k")
    for row in ev.at_k:
        at_k.add_column(
            f"{row['k']} (2x)" if row["k"] == ev.k_2x else str(row["k"]), justify="right"
        )
    at_k.add_row("precision", *[_num(row["precision"]) for row in ev.at_k])
    at_k.add_row("recall", *[_num(row["recall"]) for row in ev.at_k])
    at_k.add_row("look-alikes in top k", *[str(row["lookalikes_in_top_k"]) for row in ev.at_k])
    for typology in typologies:
        at_k.add_row(
            f"recall {typology}",
            *[_num(row["recall_by_typology"].get(typology)) for row in ev.at_k],
        )
    out.print(at_k)

    per_typology = Table(title="Per typology", title_justify="left")
    for name in ("typology", "positives", "AP", "ROC-AUC", "recall@2x", "median rank"):
        per_typology.add_column(name, justify="right" if name != "typology" else "left")
    for row in ev.typologies:
        per_typology.add_row(
            row["typology"],
            str(row["positives"]),
            _num(row["average_precision"]),
            _num(row["roc_auc"]),
            _num(row["recall_at_2x"]),
            _num(row["median_rank"], 0),
        )
    out.print(per_typology)

    if ev.cases:
        summary = ev.case_summary
        found = ", ".join(f"top {k}: {n}" for k, n in summary["cases_with_core_in_top_k"].items())
        out.print(
            f"Cases: {summary['n_cases']}; with a core account in {found}; median best rank "
            f"{_num(summary['median_best_core_rank'], 0)}; worst "
            f"{_num(summary['worst_best_core_rank'])}; unranked {summary['cases_unranked']}"
        )
        if summary["cases_with_core_in_a_scan_case"] is not None:
            out.print(
                f"Planted cases with a core account in one of the scan's cases: "
                f"{summary['cases_with_core_in_a_scan_case']} of {summary['n_cases']}"
            )
        out.print(
            f"Cases reached with fewer than 20 unlabelled accounts ranked above their best core "
            f"account: {summary['cases_with_under_20_false_alarms_ahead']} of "
            f"{summary['n_cases']} (median {_num(summary['median_false_alarms_ahead'], 0)})"
        )
        if summary["cases_under_budget_false_cases_ahead"] is not None:
            out.print(
                f"Working the scan's cases in order: planted cases reached with fewer than "
                f"{summary['case_list_budget']} scan cases without any labelled account ahead: "
                f"{summary['cases_under_budget_false_cases_ahead']} of {summary['n_cases']} "
                f"(median position of the first scan case holding a core account "
                f"{_num(summary['median_scan_case_position'], 0)}); with fewer than 20 "
                f"unlabelled accounts in the cases read up to it: "
                f"{summary['cases_with_under_20_unlabelled_read']} of {summary['n_cases']} "
                f"(median {_num(summary['median_unlabelled_read'], 0)})"
            )
        shown = ev.cases[::-1] if all_cases else ev.cases[::-1][:SHOWN_CASES]
        worst = Table(
            title="Rank of each case's best core account"
            + ("" if all_cases else f" (worst {SHOWN_CASES}; --all-cases for every case)"),
            title_justify="left",
        )
        for name in ("case", "typology", "accounts", "best core rank", "unlabelled above",
                     "account", "role", "case #", "false cases", "unlabelled read"):
            worst.add_column(name)
        for case in shown:
            worst.add_row(
                case["case_id"],
                case["typology"],
                str(case["n_accounts"]),
                _num(case["best_core_rank"]),
                _num(case["false_alarms_ahead"]),
                case["best_core_account"] or "–",
                case["best_core_role"] or "–",
                _num(case["scan_case_position"]),
                _num(case["false_cases_ahead"]),
                _num(case["unlabelled_read"]),
            )
        out.print(worst)

    diag = ev.diagnostics
    if ev.codes:
        codes = Table(title="Evidence codes (by positives carried)", title_justify="left")
        for name in (
            "code",
            "accounts",
            "positives",
            "precision",
            "recall",
            "look-alikes",
            f"in top {diag['k']}",
        ):
            codes.add_column(name, justify="right" if name != "code" else "left")
        for row in ev.codes[:SHOWN_CODES]:
            codes.add_row(
                row["code"],
                str(row["accounts"]),
                str(row["positives"]),
                _num(row["precision"]),
                _num(row["recall"]),
                str(row["lookalikes"]),
                str(row["in_top_2x"]),
            )
        out.print(codes)

        hits = Table(
            title=f"What the hits and misses carry at k = {diag['k']}", title_justify="left"
        )
        for name in (
            "typology",
            "hits",
            "misses",
            "misses w/o evidence",
            "hit codes",
            "miss codes",
        ):
            hits.add_column(name)
        for typology, row in diag["typologies"].items():
            hits.add_row(
                typology,
                str(row["hits"]),
                str(row["misses"]),
                _num(row["misses_without_evidence"], 2),
                _codes_text(row["hit_codes"]),
                _codes_text(row["miss_codes"]),
            )
        fp = diag["false_positives"]
        hits.add_row("(false positives)", str(fp["n"]), "", "", _codes_text(fp["codes"]), "")
        out.print(hits)

    groups = diag["lookalikes_in_top"]["groups"]
    if groups:
        look = Table(title=f"Look-alike groups in the top {diag['k']}", title_justify="left")
        for name in ("group", "accounts", "in top k", "share"):
            look.add_column(name, justify="right" if name != "group" else "left")
        for row in groups:
            look.add_row(
                row[LOOKALIKE_GROUP],
                str(row["accounts"]),
                str(row["in_top"]),
                _num(row["share_in_top"], 2),
            )
        out.print(look)

    if ev.features:
        feats = Table(title="Features alone (ROC-AUC; 0.5 = no separation)", title_justify="left")
        for name in ("feature", "ROC-AUC", "median positive", "median negative"):
            feats.add_column(name, justify="right" if name != "feature" else "left")
        for row in ev.features[:SHOWN_FEATURES]:
            feats.add_row(
                row["feature"],
                _num(row["roc_auc"]),
                _num(row["median_positive"], 2),
                _num(row["median_negative"], 2),
            )
        out.print(feats)


def _codes_text(codes: list[dict]) -> str:
    return ", ".join(f"{c['code']} {c['share']:.0%}" for c in codes) or "–"


@click.command("evaluate")
@click.argument("outdir", type=click.Path(path_type=str))
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(path_type=str),
    help="Ground truth: generator labels.csv, AMLSim alert_accounts.csv or nodes.csv, "
    "or a transactions file with is_laundering (AMLworld too).",
)
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default=None,
    help="Label file kind (detected from the header when not given).",
)
@click.option(
    "--k",
    "ks_text",
    default=",".join(str(k) for k in DEFAULT_KS),
    show_default=True,
    help="Review budgets k, comma-separated; k = 2x positives is always added.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON instead.")
@click.option("--all-cases", is_flag=True, help="List every labelled case, not the worst few.")
def evaluate_command(
    outdir: str,
    labels_path: str,
    kind: str | None,
    ks_text: str,
    as_json: bool,
    all_cases: bool,
) -> None:
    """Measure how well the scan in OUTDIR ranks the labelled laundering accounts."""
    ev = evaluate_outdir(outdir, labels_path, ks=_parse_ks(ks_text), kind=kind)
    if as_json:
        click.echo(json.dumps(ev.as_dict(), indent=2))
    else:
        render(ev, all_cases=all_cases)


COMMANDS = [evaluate_command]
