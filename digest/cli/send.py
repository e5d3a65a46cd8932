"""`digest send`: deliver the current edition to every active reader not yet served."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import click

from digest.app.send import SendEvent, SendSummary, send_editions
from digest.cli.app import AppContext, cli, parse_date_option, pass_app, print_json

OUTCOMES = ("sent", "skipped", "deferred", "failed", "bounced")
INTERRUPTED = 130
TEMPFAIL = 75  # EX_TEMPFAIL (sysexits.h): try again later
# What a dry run says instead of each outcome: it did none of them.
WOULD = {"sent": "would send", "skipped": "would skip"}


class LogLines:
    """Not a terminal: one plain line per reader that was acted on (problems on stderr when
    stdout is reserved for JSON)."""

    def __init__(self, *, quiet: bool, dry_run: bool = False) -> None:
        self.quiet = quiet
        self.dry_run = dry_run

    def __call__(self, event: SendEvent) -> None:
        if event.kind in ("start", "unchanged", "held", "resumed"):
            return
        problem = event.kind in ("deferred", "failed", "bounced")
        if self.quiet and not problem:
            return
        edition = f" edition {event.edition.isoformat()}" if event.edition else ""
        detail = f": {event.error}" if event.error else ""
        kind = WOULD.get(event.kind, event.kind) if self.dry_run else event.kind
        click.echo(f"{kind} {event.email}{edition}{detail}", err=self.quiet)


class Held:
    """Counts readers other senders hold, and claims taken over from dead ones, to say so
    after the run."""

    def __init__(self) -> None:
        self.live = self.unknown = self.resumed = 0

    def watching(self, display: Callable[[SendEvent], None]) -> Callable[[SendEvent], None]:
        def progress(event: SendEvent) -> None:
            if event.kind == "held":
                if event.error == "live":
                    self.live += 1
                else:
                    self.unknown += 1
            elif event.kind == "resumed":
                self.resumed += event.total or 0
            display(event)

        return progress

    def describe(self, lease: float) -> list[str]:
        lines = []
        if self.resumed:
            lines.append(
                f"{self.resumed} delivery(ies) taken over from a sender that died; sent now"
            )
        if self.live:
            lines.append(f"{self.live} reader(s) left alone: held by a live sender")
        if self.unknown:
            lines.append(
                f"{self.unknown} reader(s) left alone: held by a sender that stopped answering "
                f"less than {lease:g} s ago ([smtp] claim_lease_seconds), perhaps on another "
                "host; a later run sends them"
            )
        return lines


async def _send(app: AppContext, progress: Any, **options: Any) -> tuple[SendSummary, bool]:
    """Run the pipeline; SIGINT/SIGTERM ask it to stop gracefully (a second one kills)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def graceful(sig: signal.Signals) -> None:
        stop.set()
        loop.remove_signal_handler(sig)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, graceful, sig)
    try:
        summary = await send_editions(
            app.store, app.settings, now=datetime.now(UTC), progress=progress, stop=stop, **options
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return summary, stop.is_set()


@cli.command("send")
@click.option(
    "--date",
    "edition_date",
    callback=parse_date_option,
    default=None,
    metavar="YYYY-MM-DD",
    help="Edition date for every reader (default: each reader's current edition).",
)
@click.option("--dry-run", is_flag=True, help="Build and render every digest; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@pass_app
def send_command(app: AppContext, edition_date: date | None, dry_run: bool, as_json: bool) -> None:
    """Send the current edition to every active reader who has not had it yet.

    Safe to run again: readers already served are skipped, deferred ones are retried.
    Exits 0 when the run completed, even if some deliveries were deferred.
    """
    options = {"edition_date": edition_date, "dry_run": dry_run}
    held = Held()
    if sys.stdout.isatty() and not as_json:
        # rich only for a terminal: cron, scripts and every sender of a scale-out spare its
        # import (~0.07 s of start-up, python -X importtime).
        from digest.cli.send_progress import Console, ProgressBar

        console = Console()
        with ProgressBar(console, dry_run=dry_run) as bar:
            summary, stopped = asyncio.run(_send(app, held.watching(bar), **options))
        bar.summary(summary, dry_run=dry_run)
    else:
        display = held.watching(LogLines(quiet=as_json, dry_run=dry_run))
        summary, stopped = asyncio.run(_send(app, display, **options))
        if as_json:
            print_json(summary.as_dict())
        else:
            click.echo(_summary_line(summary, dry_run=dry_run))
    for line in held.describe(app.settings.smtp.claim_lease_seconds):
        click.echo(line, err=True)
    if stopped:
        click.echo("stopped before the end; run `digest send` again to finish", err=True)
        sys.exit(INTERRUPTED)
    if not dry_run and summary.nothing_accepted:
        smtp = app.settings.smtp
        click.echo(
            f"error: no message was accepted ({summary.deferred} deferred): is the SMTP server "
            f"at {smtp.host}:{smtp.port} up? `digest send` again retries them",
            err=True,
        )
        raise click.exceptions.Exit(TEMPFAIL)


def _summary_line(summary: SendSummary, *, dry_run: bool) -> str:
    counts = summary.as_dict()
    if not dry_run:
        return ", ".join(f"{name} {count}" for name, count in counts.items())
    done = ", ".join(f"{WOULD.get(name, name)} {count}" for name, count in counts.items())
    return f"dry run, nothing sent: {done}"
