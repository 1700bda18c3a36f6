"""Commands: report, explore, export — what people read and what FIUs receive."""

from __future__ import annotations

import time
from pathlib import Path

import click

from moneytrail.cli.common import err, notice, out

EXPORT_FORMAT_NAMES = ("goaml", "sar", "i2", "gexf", "graphml", "ftm")


@click.command("report")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--top-cases", default=20, show_default=True, type=click.IntRange(min=0),
              help="Cases shown in full; the rest are listed in a table.")
def report(outdir: Path, top_cases: int) -> None:
    """Re-render OUTDIR/report.html from a scan's output folder."""
    from moneytrail.report import write_report

    started = time.perf_counter()
    path = write_report(outdir, top_cases=top_cases)
    size = path.stat().st_size
    out.print(str(path))
    err.print(f"report: {size / 1e6:.2f} MB in {time.perf_counter() - started:.1f} s",
              highlight=False)


@click.command("explore")
@click.argument("account")
@click.option("--scan", "scan_dir", required=True, type=click.Path(file_okay=False,
              path_type=Path), help="The scan's output folder (OUTDIR).")
@click.option("--hops", default=2, show_default=True, type=click.IntRange(min=1, max=6),
              help="Transfers away from the account, either direction.")
@click.option("--since", help="Only transactions at or after this date/time (ISO).")
@click.option("--until", help="Only transactions at or before this date/time (ISO).")
@click.option("--max-nodes", default=150, show_default=True, type=click.IntRange(min=2),
              help="Cut the neighbourhood to the accounts exchanging the most money.")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="HTML file to write.")
def explore(account, scan_dir, hops, since, until, max_nodes, output) -> None:
    """Write the k-hop neighbourhood of ACCOUNT as an offline HTML page."""
    from moneytrail.report import explore as explore_account

    path = explore_account(scan_dir, account, hops=hops, since=since, until=until, out=output,
                           max_nodes=max_nodes)
    out.print(str(path))


@click.command("export")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMAT_NAMES),
              help="goaml: STR/SAR XML drafts; sar: narrative drafts; i2: entity/link CSVs; "
                   "gexf/graphml: case graphs; ftm: FollowTheMoney JSON lines.")
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Folder to write into (created when missing).")
@click.option("--profile", help="goAML FIU profile: a name (see export_profiles/) or a YAML file.")
@click.option("--case", "cases", multiple=True, help="Only this case id (repeatable).")
@click.option("--top-cases", type=click.IntRange(min=1), help="Only the N highest-scoring cases.")
def export(outdir, fmt, output, profile, cases, top_cases) -> None:
    """Export the cases of a scan for FIUs and investigation tools (drafts for a human)."""
    from moneytrail.report import export as export_scan

    paths = export_scan(outdir, fmt, output, profile=profile, cases=list(cases) or None,
                        top_cases=top_cases)
    for path in paths:
        out.print(str(path))
    if not paths:
        notice("the scan has no cases with transactions: nothing to export")
    err.print(f"{fmt}: {len(paths)} file(s) in {output}", highlight=False)


COMMANDS = [report, explore, export]
