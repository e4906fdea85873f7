"""The `aisle` command (console entry point `pipeline.cli:main`; `python -m pipeline.cli` runs it too).
It builds one Settings from the environment and passes it down."""

from pipeline.cli.app import cli, main

__all__ = ["cli", "main"]
