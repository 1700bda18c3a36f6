"""Command: scan — the main job."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from moneytrail import schema as S
from moneytrail.cli.common import err, notice, out
from moneytrail.params import load_params

FAIL_EXIT = 3


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False),
              help="Folder for scores, alerts, evidence, cases, report and manifest.")
@click.option("--accounts", type=click.Path(dir_okay=False),
              help="Accounts (KYC) table: holder type, age, address, phone, device, ...")
@click.option("--profile", help="Mapping profile name or file (detected when omitted).")
@click.option("--rules", "rules_dir", type=click.Path(file_okay=False),
              help="Rules folder (default: the shipped catalogue).")
@click.option("--params", "params_file", type=click.Path(dir_okay=False),
              help="Params file (YAML) overriding rule parameters and stage settings.")
@click.option("--param", "overrides", multiple=True, metavar="KEY.name=value",
              help="Override one parameter, e.g. ML-STRUCT-01.threshold=3000 or scoring.top_k=50.")
@click.option("--top", "top_k", type=click.IntRange(min=0),
              help="Also alert the K riskiest accounts with any evidence.")
@click.option("--fail-on", type=click.Choice(S.SEVERITIES),
              help=f"Exit {FAIL_EXIT} when an alert at or above this level exists (pipelines).")
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def scan(inputs, outdir, accounts, profile, rules_dir, params_file, overrides, top_k, fail_on,
         no_report, quiet):
    """Scan transaction exports for trafficking-related laundering.

    Writes OUTDIR/scores.csv (every account, ranked), alerts.csv, evidence.parquet,
    cases.json, quarantine.csv, manifest.json and report.html.
    """
    from moneytrail.scan import run_scan  # keeps `moneytrail --help` fast

    params = load_params(params_file, tuple(overrides))

    def on_stage(name: str, seconds: float | None) -> None:
        if quiet:
            return
        if seconds is None:
            err.print(f"[dim]▸ {name} …[/dim]", highlight=False)
        else:
            err.print(f"  {name:<9} {seconds:7.2f} s", highlight=False)

    result = run_scan(inputs, outdir, accounts=accounts, profile=profile, rules_dir=rules_dir,
                      params=params, top_k=top_k, progress=not quiet, report=not no_report,
                      on_stage=on_stage)
    for text in result.notices:
        notice(text)
    _print_summary(result)
    if fail_on and _has_alert_at(result.alerts, fail_on):
        sys.exit(FAIL_EXIT)


def _print_summary(result) -> None:
    m = result.manifest
    table = Table(title="moneytrail scan", show_header=True, header_style="bold")
    table.add_column("file")
    table.add_column("read", justify="right")
    table.add_column("accepted", justify="right")
    table.add_column("quarantined", justify="right")
    for item in m["inputs"]:
        table.add_row(Path(item["path"]).name, f"{item['rows_read']:,}",
                      f"{item['rows_accepted']:,}", f"{item['rows_quarantined']:,}")
    out.print(table)
    rules = m["rules"]
    counts = m["counts"]
    out.print(
        f"profile {m['profile']}{' (detected)' if m['profile_detected'] else ''} · "
        f"rules run {len(rules['ran'])}, skipped {len(rules['skipped'])}, "
        f"broken {len(rules['broken'])} · accounts scored {counts['accounts_scored']:,} · "
        f"evidence {counts['evidence']:,} · alerts {counts['alerts']:,} · "
        f"cases {counts['cases']:,}",
        highlight=False,
    )
    total = sum(m["timings"].values())
    out.print(f"time {total:.1f} s · results in {result.outdir}", highlight=False)
    top = result.alerts.head(10)
    if top.height:
        t = Table(title="top alerts", header_style="bold")
        for col in (S.SC_RANK, S.SC_ACCOUNT, S.SC_RISK, S.SC_LEVEL, S.SC_ROLE, S.SC_CASE,
                    S.SC_CODES):
            t.add_column(col)
        for row in top.iter_rows(named=True):
            t.add_row(*(_cell(row[c]) for c in (S.SC_RANK, S.SC_ACCOUNT, S.SC_RISK, S.SC_LEVEL,
                                                S.SC_ROLE, S.SC_CASE, S.SC_CODES)))
        out.print(t)
    _print_top_cases(result)


def _print_top_cases(result) -> None:
    """The first cases of cases.json: what an analyst opens first."""
    from moneytrail.report.scan_output import case_headers

    headers = case_headers(result.cases, 0, 5)
    if not headers:
        return
    rows = [
        [
            _cell(case["case_id"]), _cell(case["score"]), _cell(case["level"]),
            _cell(case["n_accounts"]), _cell(f"{case['total_value']:,.0f}"),
            _cell(_first(case.get("typologies") or case.get("codes", []), 3)),
        ]
        for case in headers
    ]
    t = Table(title="top cases", header_style="bold")
    names = ("case_id", "score", "level", "accounts", "value")
    for i, col in enumerate(names):
        # the short columns keep their width; the evidence list takes what is left
        t.add_column(col, no_wrap=True, min_width=max(len(col), *(len(r[i]) for r in rows)))
    t.add_column("evidence", ratio=1)
    for row in rows:
        t.add_row(*row)
    out.print(t)


def _first(items: list[str], n: int) -> str:
    more = f" +{len(items) - n}" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _cell(value) -> str:
    from rich.markup import escape

    if isinstance(value, float):
        return f"{value:.3f}"
    return escape("" if value is None else str(value))


def _has_alert_at(alerts, level: str) -> bool:
    floor = S.SEVERITIES.index(level)
    return any(
        lvl in S.SEVERITIES and S.SEVERITIES.index(lvl) >= floor
        for lvl in alerts[S.SC_LEVEL].to_list()
    )


COMMANDS = [scan]
