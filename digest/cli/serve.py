"""`digest serve` (scheduler and web app in one process) and `digest due` (who is due when)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from digest.app.due import Due, due_editions
from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.errors import ConfigError


def parse_instant(value: str) -> datetime:
    """An ISO 8601 datetime with an offset (`Z` allowed). A naive one is refused: guessing the
    zone would silently shift every answer by hours."""
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"--at: expected an ISO datetime such as 2026-03-29T08:00:00+02:00, got {value!r}"
        ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ConfigError(
            f"--at: {value!r} has no UTC offset; add one, e.g. {value}Z or {value}+02:00"
        )
    return instant


def due_json(items: list[Due]) -> list[dict[str, str]]:
    """The `digest due --json` shape (DESIGN.md): edition = the subscriber's local date."""
    return [{"email": d.subscriber.email, "edition": d.edition.isoformat()} for d in items]


def due_table(items: list[Due], at: datetime) -> str:
    """Plain aligned columns: readable in a terminal, in a log and through `grep`."""
    header = ("EMAIL", "EDITION", "CADENCE", "SLOT (LOCAL)", "SLOT (UTC)", "LATE")
    rows = [header]
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
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
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
    with app.store.session() as session:
        items = due_editions(session, at, app.settings)
    if as_json:
        print_json(due_json(items))
    elif not items:
        click.echo(f"Nothing is due at {at.isoformat()}.")
    else:
        click.echo(due_table(items, at))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Web app address.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Web app port."
)
@click.option("--no-web", is_flag=True, help="Run the scheduler only.")
@click.option("--no-scheduler", is_flag=True, help="Run the web app only.")
@click.option("--once", is_flag=True, help="Run one delivery tick now, then exit.")
@pass_app
def serve(
    app: AppContext, host: str, port: int, no_web: bool, no_scheduler: bool, once: bool
) -> None:
    """Run the scheduler (ingest on [schedule] ingest_cron, deliveries every minute) and the web
    app in one process. SIGTERM or Ctrl-C stops after the messages in flight."""
    from digest.schedule.service import Scheduler, check_configuration, run_once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Migrations and APScheduler's per-run chatter ("Running job …" every minute) are noise here.
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if once and no_scheduler:
        raise ConfigError("--once runs a delivery tick: it cannot be combined with --no-scheduler")
    if no_web and no_scheduler:
        raise ConfigError("--no-web and --no-scheduler together leave nothing to run")
    settings, store = app.settings, app.store
    # Everything is checked before anything starts: never half-configured.
    trigger = check_configuration(settings, store, delivery=not no_scheduler)
    scheduler = Scheduler(settings, store)
    if once:
        report = asyncio.run(run_once(scheduler))
        click.echo(report.describe(), err=True)
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
    from digest.schedule.service import bind, serve

    sock = bind(host, port) if web_app is not None else None
    try:
        await serve(scheduler, ingest_trigger=trigger, app=web_app, sock=sock)
    finally:
        if sock is not None:
            sock.close()
