"""Command-line shell. Each module in this package registers its commands on `cli`."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from digest.cli.app import cli, run

__all__ = ["cli", "main"]


def _load_commands() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "app":
            importlib.import_module(f"{__name__}.{module.name}")


_load_commands()


def main() -> None:
    sys.exit(run())
