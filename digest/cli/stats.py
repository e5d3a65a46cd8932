"""`digest stats`: readers by status, the last editions by outcome, each source's last ingest."""

from __future__ import annotations

from typing import Any

import click

from digest.app.stats import Stats, gather
from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.store.stats import OUTCOMES

EDITIONS = 30


def stats_json(stats: Stats) -> dict[str, Any]:
    """The `digest stats --json` shape (DESIGN.md, "Operating it")."""
    return {
        "subscribers": dict(stats.subscribers),
        "editions": [
            {"edition": e.edition.isoformat(), **{name: e.count(name) for name in OUTCOMES}}
            for e in stats.editions
        ],
        "sources": [
            {
                "source": run.source,
                "last_ingest": run.finished_at.isoformat(),
                "parsed": run.parsed,
                "new": run.new,
                "error": run.error,
            }
            for run in stats.sources
        ],
    }


def _lines(stats: Stats) -> list[str]:
    lines = ["subscribers: " + ", ".join(f"{k} {v}" for k, v in stats.subscribers.items())]
    lines.append("editions (newest first):" if stats.editions else "editions: none sent yet")
    for e in stats.editions:
        counts = ", ".join(f"{name} {e.count(name)}" for name in OUTCOMES if e.count(name))
        lines.append(f"  {e.edition.isoformat()}  {counts}")
    lines.append("sources (last ingest):" if stats.sources else "sources: never ingested")
    for run in stats.sources:
        when = run.finished_at.strftime("%Y-%m-%d %H:%M UTC")
        outcome = f"error: {run.error}" if run.error else f"{run.parsed} papers, {run.new} new"
        lines.append(f"  {run.source}  {when}  {outcome}")
    return lines


@cli.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def stats_command(app: AppContext, as_json: bool) -> None:
    """Subscribers by status, the last 30 editions by outcome, and each source's last ingest."""
    stats = gather(app.store, editions=EDITIONS)
    if as_json:
        print_json(stats_json(stats))
        return
    for line in _lines(stats):
        click.echo(line)
