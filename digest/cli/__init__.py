"""Command-line shell. Each module in this package registers its commands on `cli`, and `cli`
imports a module only when one of its commands runs (see `digest.cli.app.LazyGroup`)."""

from __future__ import annotations

import sys

from digest.cli.app import cli, run

__all__ = ["cli", "main"]


def main() -> None:
    sys.exit(run())
