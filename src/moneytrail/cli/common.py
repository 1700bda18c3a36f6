"""What every command shares: error handling and console output."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

import click
from rich.console import Console
from rich.markup import escape

from moneytrail.errors import MoneytrailError

T = TypeVar("T")

# Results go to stdout; progress, notices and errors go to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def run_guarded(call: Callable[[], T]) -> T:
    """Run a command; turn user-facing errors into one message and exit 1."""
    try:
        return call()
    except MoneytrailError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        # Missing folders, unreadable or unwritable files: the path says it all.
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {where}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # usage errors: click prints them and exits 2
    except Exception as exc:
        if os.environ.get("MONEYTRAIL_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  hint: this is a bug in moneytrail; set MONEYTRAIL_DEBUG=1 to see the traceback "
            "and report it",
            err=True,
        )
        sys.exit(1)


def notice(message: str) -> None:
    """A visible notice on stderr (skipped rules, left-out features, ...)."""
    err.print(f"[yellow]notice:[/yellow] {escape(message)}", markup=True, highlight=False)
