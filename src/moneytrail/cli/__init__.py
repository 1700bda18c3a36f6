"""The ``moneytrail`` command: a thin click shell over the library.

Each sub-module holds the commands of one concept and exposes them in a
``COMMANDS`` list; commands parse options, call one library function and
format its result. Errors a user can act on become one message and exit 1.
"""

from __future__ import annotations

import click

from moneytrail import __version__
from moneytrail.cli import evaluate, generate, ingest, report, rules, scan
from moneytrail.cli.common import run_guarded


class _GuardedGroup(click.Group):
    def invoke(self, ctx: click.Context):
        return run_guarded(lambda: super(_GuardedGroup, self).invoke(ctx))


@click.group(cls=_GuardedGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moneytrail")
def main() -> None:
    """Find money laundering tied to human trafficking in bank transaction data."""


for _module in (ingest, generate, rules, scan, report, evaluate):
    for _command in _module.COMMANDS:
        main.add_command(_command)
