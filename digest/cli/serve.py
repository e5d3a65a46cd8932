"""`digest serve` (scheduler and web app in one process) and `digest due` (who is due when)."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from digest.app.due import Due, due_pages
from digest.cli.app import AppContext, cli, pass_app, report_warnings
from digest.cli.logs import configure as configure_logging
from digest.cli.logs import log_format_option
from digest.errors import ConfigError, ListenError, map_value_errors


def parse_instant(value: str) -> datetime:
    """An ISO 8601 datetime with an offset (`Z` allowed). A naive one is refused: guessing the
    zone would silently shift every answer by hours."""
    with map_value_errors(
        where="--at",
        value=value,
        expected="an ISO datetime such as 2026-03-29T08:00:00+02:00",
        error=ConfigError,
    ):
        instant = datetime.fromisoformat(value.strip())
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ConfigError(
            f"--at: {value!r} has no UTC offset; add one, e.g. {value}Z or {value}+02:00"
        )
    return instant


def due_json(item: Due) -> dict[str, str]:
    """One entry of the `digest due --json` array (DESIGN.md): edition = the local date."""
    return {"email": item.subscriber.email, "edition": item.edition.isoformat()}


def due_table(items: list[Due], at: datetime, *, header: bool = True) -> str:
    """Plain aligned columns: readable in a terminal, in a log and through `grep`. Printed a
    page at a time; the columns are wide enough for any address up to 40 characters."""
    titles = ("EMAIL", "EDITION", "CADENCE", "SLOT (LOCAL)", "SLOT (UTC)", "LATE")
    rows = [titles] if header else []
    for item in items:
        profile = item.subscriber.profile
        local = item.slot.astimezone(ZoneInfo(profile.timezone))
        late = int((at - item.slot).total_seconds() // 60)
        rows.append(
            (
                profile.email,
                item.edition.isoformat(),
                profile.cadence,
                f"{local:%Y-%m-%d %H:%M} {profile.timezone}",
                f"{item.slot:%Y-%m-%d %H:%M}",
                f"{late // 60}h{late % 60:02d}" if late else "on time",
            )
        )
    # Fixed minimum widths keep the columns of successive pages aligned.
    minimum = (40, 10, 10, 36, 16, 7)
    widths = [max(minimum[i], *(len(row[i]) for row in rows)) for i in range(len(titles))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


@cli.command()
@click.option(
    "--at",
    "at_text",
    required=True,
    metavar="ISO_DATETIME",
    help="The instant to ask about, with a UTC offset (e.g. 2026-03-29T08:00:00+02:00 or …Z).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of {email, edition}.")
@pass_app
def due(app: AppContext, at_text: str, as_json: bool) -> None:
    """Who would be sent which edition at an instant (ledger and catch_up_hours honoured)."""
    at = parse_instant(at_text)
    # Streamed a page of readers at a time: a million readers print in flat memory.
    count = 0
    pages = due_pages(app.store, at, app.settings)
    # The first page is read before anything is printed: a bad setting or a database that cannot
    # be opened is then one error line, not a JSON document cut off after "[".
    first = next(pages, None)
    if as_json:
        click.echo("[", nl=False)
    for page in itertools.chain([first] if first is not None else [], pages):
        for bad in page.unschedulable:
            click.echo(f"warning: {bad.describe()}; not due until fixed", err=True)
        if not page.due:
            continue
        if as_json:
            for item in page.due:
                click.echo(("," if count else "") + "\n  " + json.dumps(due_json(item)), nl=False)
                count += 1
        else:
            click.echo(due_table(page.due, at, header=not count))
            count += len(page.due)
    if as_json:
        click.echo("\n]" if count else "]")
    elif not count:
        click.echo(f"Nothing is due at {at.isoformat()}.")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Web app address.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Web app port."
)
@click.option("--no-web", is_flag=True, help="Run the scheduler only.")
@click.option("--no-scheduler", is_flag=True, help="Run the web app only.")
@click.option(
    "--once",
    is_flag=True,
    help="Ingest if [schedule] ingest_cron fired since the last ingest, run one delivery tick, "
    "then exit (for cron or a systemd timer); exit 75 when no digest due got through.",
)
@log_format_option
@pass_app
def serve(
    app: AppContext,
    host: str,
    port: int,
    no_web: bool,
    no_scheduler: bool,
    once: bool,
    log_format: str,
) -> None:
    """Run the scheduler and the web app in one process.

    The scheduler ingests on [schedule] ingest_cron and delivers every minute. SIGTERM or Ctrl-C
    stops after the messages in flight."""
    from digest.app.send import SendSummary
    from digest.cli.send import TEMPFAIL
    from digest.schedule.service import Scheduler, check_configuration, run_once

    report_warnings(False)  # the service logs everything in its own format
    configure_logging(log_format)
    if once and no_scheduler:
        raise ConfigError("--once runs a delivery tick: it cannot be combined with --no-scheduler")
    if no_web and no_scheduler:
        raise ConfigError("--no-web and --no-scheduler together leave nothing to run")
    settings, store = app.settings, app.store
    # Everything is checked before anything starts: never half-configured.
    trigger = check_configuration(settings, store, delivery=not no_scheduler)
    scheduler = Scheduler(settings, store)
    if once:
        report = asyncio.run(run_once(scheduler, trigger))
        click.echo(report.describe(), err=True)
        # As `digest send`: a timer or cron line must see a tick nobody's digest got through.
        if SendSummary(**report.counts).nothing_accepted:
            raise click.exceptions.Exit(TEMPFAIL)
        return
    web_app = None if no_web else _web_app(settings, store)
    asyncio.run(_serve(scheduler, None if no_scheduler else trigger, web_app, host, port))


def _web_app(settings: Any, store: Any) -> Any:
    try:
        from digest.web import create_app
    except ImportError as exc:
        raise ConfigError(
            f"the web app is not available in this installation ({exc}); "
            "run `digest serve --no-web` for the scheduler alone"
        ) from None
    return create_app(settings, store)


async def _serve(scheduler: Any, trigger: Any, web_app: Any, host: str, port: int) -> None:
    from digest.schedule.service import serve
    from digest.web.server import bind, serve_app

    if web_app is None:
        await serve(scheduler, ingest_trigger=trigger)
        return
    try:
        sock = bind(host, port)
    except ListenError as exc:
        raise exc.within(f"--{exc.option}") from None
    try:
        await serve(
            scheduler,
            ingest_trigger=trigger,
            web=lambda done: serve_app(web_app, sock, done),
        )
    finally:
        sock.close()
