"""Commands: ``moneytrail ingest`` and ``moneytrail profiles``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from moneytrail.cli.common import notice, out
from moneytrail.errors import InputError
from moneytrail.ingest import ingest, list_profiles, load_profile
from moneytrail.ingest.currencies import DEFAULTS as CURRENCY_DEFAULTS
from moneytrail.ingest.currencies import exchange_rates
from moneytrail.params import load_params, settings


def _sibling(path: Path, suffix: str) -> Path:
    """OUT.parquet -> OUT.<suffix> in the same folder."""
    return path.with_name(path.name.removesuffix(path.suffix) + suffix)


@click.command("ingest")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--profile",
    "profile",
    default=None,
    metavar="NAME|FILE",
    help="Mapping profile: a built-in name (see `moneytrail profiles`) or a profile YAML "
    "file. Default: detected from each file's header.",
)
@click.option(
    "--accounts",
    type=click.Path(path_type=Path),
    default=None,
    help="Accounts (KYC) table to validate and write next to the output.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Canonical transactions Parquet file to write.",
)
@click.option(
    "--quarantine",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="CSV of rejected rows (default: OUT.quarantine.csv when any row is rejected).",
)
@click.option(
    "--params",
    "params_file",
    type=click.Path(dir_okay=False),
    help="Params file (YAML); its ingest section converts amounts to one currency.",
)
@click.option(
    "--param",
    "overrides",
    multiple=True,
    metavar="ingest.name=value",
    help="Override one ingest setting, e.g. ingest.base_currency=USD.",
)
@click.option("--strict", is_flag=True, help="Exit 1 when any row was quarantined.")
def ingest_command(
    inputs, profile, accounts, output, quarantine, params_file, overrides, strict
) -> None:
    """Read exports INPUT... into one validated canonical Parquet table.

    CSV (any delimiter, optionally .gz), Parquet, NDJSON and Excel files are read;
    several files are concatenated and every row keeps its source file and row.
    Rows that cannot be made canonical go to the quarantine file with the reason.
    """
    params = load_params(params_file, tuple(overrides))
    exchange = exchange_rates(settings(params, "ingest", CURRENCY_DEFAULTS))
    result = ingest(
        list(inputs), profile=profile, accounts=accounts, progress=True, exchange=exchange
    )
    for message in result.notices:
        notice(message)

    if quarantine is None and result.rows_quarantined:
        quarantine = _sibling(output, ".quarantine.csv")
    accounts_out = _sibling(output, ".accounts.parquet") if accounts is not None else None
    result.write(output, quarantine_csv=quarantine, accounts_parquet=accounts_out)

    how = "detected from the header" if result.detected else "given"
    out.print(f"profile: {escape(result.profile)} ({how})")
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("file", overflow="fold")
    for name in ("read", "accepted", "quarantined"):
        table.add_column(name, justify="right")
    for count in result.files:
        label = count.path if count.kind == "transactions" else f"{count.path} (accounts)"
        table.add_row(
            escape(label),
            f"{count.rows_read:,}",
            f"{count.accepted:,}",
            f"{count.quarantined:,}",
        )
    txn_files = [c for c in result.files if c.kind == "transactions"]
    if len(txn_files) > 1:
        table.add_row(
            "total transactions",
            f"{sum(c.rows_read for c in txn_files):,}",
            f"{sum(c.accepted for c in txn_files):,}",
            f"{sum(c.quarantined for c in txn_files):,}",
        )
    out.print(table)
    out.print(f"wrote {escape(str(output))} ({result.transactions.height:,} transactions)")
    if accounts_out is not None and result.accounts is not None:
        out.print(f"wrote {escape(str(accounts_out))} ({result.accounts.height:,} accounts)")
    if quarantine is not None:
        out.print(f"wrote {escape(str(quarantine))} ({result.quarantine.height:,} rejected rows)")
        if result.quarantine.height:
            reasons = result.quarantine.get_column("reason").value_counts(sort=True)
            summary = ", ".join(f"{r} {n:,}" for r, n in reasons.iter_rows())
            out.print(f"quarantined: {escape(summary)}")
    if strict and result.rows_quarantined:
        raise InputError(
            f"{result.rows_quarantined:,} row(s) quarantined and --strict is set",
            file=str(quarantine),
            hint="the quarantine file lists each row, column and reason",
        )


@click.command("profiles")
@click.argument("name", required=False)
def profiles_command(name: str | None) -> None:
    """List the built-in mapping profiles, or print one (NAME) to copy and edit."""
    if name is not None:
        profile = load_profile(name)
        if profile.origin == "built-in":
            from importlib import resources

            text = (
                resources.files("moneytrail")
                .joinpath("profiles", f"{profile.name}.yaml")
                .read_text(encoding="utf-8")
            )
        else:
            text = Path(profile.origin).read_text(encoding="utf-8")
        click.echo(text, nl=False)
        return
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("profile")
    table.add_column("reads", overflow="fold")
    table.add_column("detected by header columns", overflow="fold")
    for profile in list_profiles():
        tables = [t for t in ("transactions", "accounts") if getattr(profile, t) is not None]
        detect = profile.transactions.detect if profile.transactions else ()
        table.add_row(
            escape(profile.name),
            escape(profile.description + f" [{', '.join(tables)}]"),
            escape(", ".join(" | ".join(group) for group in detect)),
        )
    out.print(table)
    out.print("print one with `moneytrail profiles NAME`; pass your own with --profile FILE.yaml")


COMMANDS: list = [ingest_command, profiles_command]
