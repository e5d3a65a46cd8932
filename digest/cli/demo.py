"""`digest demo`: run the demo steps from `digest.demo` and print what each one did."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console

from digest.cli.app import cli
from digest.cli.ingest import papers_table
from digest.demo import run_demo
from digest.models import Paper


class ConsoleReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.count = 0

    def step(self, title: str) -> None:
        self.count += 1
        self.console.print(f"\n[bold]{self.count}. {title}[/bold]")

    def info(self, text: str) -> None:
        self.console.print(f"   {text}", highlight=False)

    def papers(self, papers: Sequence[Paper], title: str) -> None:
        self.console.print(papers_table(papers, title=title))


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Folder for the demo's settings and database (its database is recreated).",
)
def demo(directory: Path) -> None:
    """Run the pipeline on the bundled sample in a fresh demo folder."""
    console = Console()
    run_demo(directory, ConsoleReporter(console))
    console.print(
        f"\nDone. Explore with: digest --config {directory / 'config.toml'} papers", highlight=False
    )
