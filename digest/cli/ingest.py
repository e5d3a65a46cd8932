"""`digest ingest` and `digest papers`: load sources into the store and show what it holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from digest.app.ingest import ingest as ingest_sources
from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.errors import ConfigError
from digest.models import Paper
from digest.sources import FORMATS
from digest.store.papers import list_papers


def paper_json(paper: Paper) -> dict[str, Any]:
    """The `digest papers --json` shape (DESIGN.md)."""
    return {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "author_count": paper.author_count,
        "organization": paper.organization,
        "published": paper.published.isoformat() if paper.published else None,
        "upvotes": paper.upvotes,
        "url": paper.url or paper.arxiv_url,
    }


def _byline(paper: Paper) -> str:
    if paper.organization:
        return paper.organization
    if paper.authors:
        more = len(paper.authors) - 2
        return ", ".join(paper.authors[:2]) + (f" +{more}" if more > 0 else "")
    if paper.author_count:
        return f"{paper.author_count} authors"
    return ""


def papers_table(papers: Sequence[Paper], *, title: str | None = None) -> Table:
    """A readable table of papers, shared by `digest papers` and `digest demo`."""
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("Published", no_wrap=True)
    table.add_column("▲", justify="right", no_wrap=True)
    table.add_column("Title", overflow="fold", ratio=3)
    table.add_column("By", overflow="fold", ratio=1)
    for position, paper in enumerate(papers, start=1):
        table.add_row(
            str(position),
            paper.published.isoformat() if paper.published else "—",
            str(paper.upvotes) if paper.upvotes is not None else "—",
            paper.title,
            _byline(paper),
        )
    return table


@cli.command()
@click.argument("sources", nargs=-1, metavar="SOURCE...")
@click.option(
    "--format",
    "format_",
    type=click.Choice(sorted(FORMATS)),
    default=None,
    help="Force the input format instead of detecting it from the content.",
)
@click.option(
    "--page-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date of an hf-text page (YYYY-MM-DD); resolves paper dates given without a year.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {parsed, new, updated} as JSON.")
@pass_app
def ingest(
    app: AppContext,
    sources: tuple[str, ...],
    format_: str | None,
    page_date: datetime | None,
    as_json: bool,
) -> None:
    """Store the papers of each SOURCE: a file, `-` for stdin, or an http(s) URL.

    Without SOURCE, the `[ingest] sources` setting is used. Every source is parsed before anything
    is stored: one bad source stores nothing.
    """
    specs = list(sources) or list(app.settings.ingest.sources)
    if not specs:
        raise ConfigError("no SOURCE given and [ingest] sources is empty; expected a file or URL")
    day: date | None = page_date.date() if page_date else None
    counts = ingest_sources(
        app.store,
        specs,
        format=format_,
        page_date=day,
        now=datetime.now(UTC),
        timeout=app.settings.ingest.timeout,
    )
    if as_json:
        print_json({"parsed": counts.parsed, "new": counts.new, "updated": counts.updated})
        return
    where = specs[0] if len(specs) == 1 else f"{len(specs)} sources"
    click.echo(
        f"{counts.parsed} papers read from {where}: {counts.new} new, {counts.updated} updated, "
        f"{counts.parsed - counts.new - counts.updated} unchanged."
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of papers.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N papers.")
@pass_app
def papers(app: AppContext, as_json: bool, limit: int | None) -> None:
    """List stored papers, newest and most upvoted first."""
    with app.store.session() as session:
        found = list_papers(session, limit=limit)
    if as_json:
        print_json([paper_json(paper) for paper in found])
        return
    if not found:
        click.echo("No papers stored yet; run `digest ingest SOURCE` first.")
        return
    Console().print(papers_table(found))
