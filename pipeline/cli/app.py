"""The `aisle` command: the root group, and `main`, the console entry point. Each command group lives
in its own module (system, data, evals, replays) and is added here."""

from __future__ import annotations

import logging
import sys

import click

from pipeline.cli import data, evals, replays, system
from pipeline.errors import AisleError


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def cli(verbose: bool) -> None:
    """Aisle: a conversational shopping assistant on a Kafka dataflow."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiokafka logs every failed connection attempt at ERROR; our retry loop says it once, clearly.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if not verbose else logging.DEBUG)
    # httpx logs every request at INFO; `aisle status` and `aisle up` make several.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)


for command in (*system.COMMANDS, *data.COMMANDS, *evals.COMMANDS, *replays.COMMANDS):
    cli.add_command(command)


def main() -> None:
    try:
        cli(standalone_mode=True)
    except AisleError as exc:
        # Known failures get one clear line, not a traceback.
        click.echo(f"aisle: {exc}", err=True)
        sys.exit(1)
