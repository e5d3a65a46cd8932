"""`digest demo`: run the demo steps from `digest.cli.demo_run` and print what each one did."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from digest.app.send import SendSummary
from digest.cli.app import cli
from digest.cli.demo_run import run_demo
from digest.cli.ingest import papers_table
from digest.models import Paper


class ConsoleReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.count = 0

    def step(self, title: str) -> None:
        self.count += 1
        self.console.print(f"\n[bold]{self.count}. {title}[/bold]")

    def info(self, text: str) -> None:
        self.console.print(f"   {text}", highlight=False, soft_wrap=True)

    def papers(self, papers: Sequence[Paper], title: str) -> None:
        self.console.print(papers_table(papers, title=title))

    def summary(self, summary: SendSummary) -> None:
        table = Table(title="Send summary")
        for name in summary.as_dict():
            table.add_column(name, justify="right")
        table.add_row(*(str(value) for value in summary.as_dict().values()))
        self.console.print(table)


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Folder for the demo's settings and database (its database is recreated).",
)
@click.option(
    "--subscribers",
    "subscribers_path",
    type=click.Path(path_type=Path),
    default=Path("subscribers"),
    show_default=True,
    help="Example subscriber profiles (a TOML file or a folder of them).",
)
def demo(directory: Path, subscribers_path: Path) -> None:
    """Run the whole pipeline on the bundled sample in a fresh demo folder."""
    console = Console()
    state = run_demo(directory, ConsoleReporter(console), subscribers_path=subscribers_path)
    config = directory / "config.toml"
    base_url = state.settings.site.base_url
    console.print(
        "\n[bold]Done.[/bold] Next:\n"
        f"  previews:      open {directory / 'previews' / 'index.html'}\n"
        f"                 or .venv/bin/digest --config {config} preview --serve\n"
        f"  sign-up page:  .venv/bin/digest --config {config} serve --no-scheduler\n"
        f"                 then open {base_url}/\n"
        f"                 (it also answers the digests' paper links, {base_url}/papers/…)\n"
        f"  papers:        .venv/bin/digest --config {config} papers",
        highlight=False,
        soft_wrap=True,
    )
