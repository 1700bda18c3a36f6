"""Commands: generate (labelled synthetic exports with planted typologies)."""

from __future__ import annotations

import time

import click

from moneytrail.cli.common import err, out
from moneytrail.synth import FORMATS, TYPOLOGIES, generate, parse_typologies


@click.command("generate")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the export and its labels into.")
@click.option("--accounts", "n_accounts", default=5000, show_default=True, type=click.IntRange(1),
              help="Number of accounts of the bank.")
@click.option("--days", default=180, show_default=True, type=click.IntRange(1),
              help="Length of the period, from 2025-01-01.")
@click.option("--seed", default=7, show_default=True, type=int,
              help="Random seed: the same seed gives the same bytes.")
@click.option("--typologies", default=None, metavar="LIST",
              help=f"Comma list of typologies to plant (default: all): {', '.join(TYPOLOGIES)}.")
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(FORMATS),
              help="File format of transactions and accounts.")
def generate_command(out_dir, n_accounts, days, seed, typologies, fmt):
    """Write a synthetic bank export with planted trafficking typologies and labels.

    The -o folder gets transactions.<fmt> and accounts.<fmt> (canonical schema),
    labels.csv (account_id, case_id, typology, role), label_transactions.csv
    (txn_id, case_id, typology) and lookalikes.csv (account_id, group).
    """
    chosen = parse_typologies(typologies)
    t0 = time.perf_counter()
    result = generate(out_dir, n_accounts=n_accounts, days=days, seed=seed, typologies=chosen,
                      fmt=fmt)
    took = time.perf_counter() - t0
    out.print(
        f"wrote {result.n_transactions:,} transactions ({result.n_laundering_transactions:,} "
        f"planted) of {result.n_accounts:,} accounts to {result.out_dir}"
    )
    out.print(
        f"{result.n_cases} planted cases of {len(chosen)} typologies, "
        f"{result.n_labelled_accounts:,} labelled accounts"
    )
    err.print(f"took {took:.1f}s")


COMMANDS = [generate_command]
