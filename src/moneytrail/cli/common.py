"""What every command shares: error handling and console output."""

from __future__ import annotations

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


def notice(message: str) -> None:
    """A visible notice on stderr (skipped rules, left-out features, ...)."""
    err.print(f"[yellow]notice:[/yellow] {escape(message)}", markup=True, highlight=False)
