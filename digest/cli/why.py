"""`digest why EMAIL`: why that reader did or did not get a digest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import click

from digest.app.why import Why, why
from digest.cli.app import AppContext, cli, parse_date_option, pass_app, print_json


def _when(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def why_json(answer: Why) -> dict[str, Any]:
    """The `digest why --json` object: the keys DESIGN.md names, then the detail behind them."""
    profile = answer.subscriber.profile
    selection = answer.selection
    delivery = answer.delivery
    return {
        "email": answer.email,
        "status": answer.subscriber.status,
        "edition": answer.edition.isoformat() if answer.edition else None,
        "state": answer.state,
        "reasons": list(answer.reasons),
        "suppression": (
            {"reason": answer.suppression.reason, "since": answer.suppression.since.isoformat()}
            if answer.suppression
            else None
        ),
        "cadence": profile.cadence,
        "send_time": profile.send_time,
        "timezone": profile.timezone,
        "slot": _when(answer.slot),
        "delivery": (
            {
                "status": delivery.status,
                "attempts": delivery.attempts,
                "message_id": delivery.message_id,
                "sent_at": _when(delivery.sent_at),
                "last_error": delivery.last_error,
                "papers": len(delivery.papers),
            }
            if delivery
            else None
        ),
        "candidates": selection.candidates if selection else None,
        "matched": selection.matched if selection else None,
        "filtered": (
            {"min_upvotes": selection.below_upvotes, "already_sent": selection.already_sent}
            if selection
            else None
        ),
        "papers": len(selection.edition.papers) if selection else None,
        "trending": len(selection.edition.trending) if selection else None,
        "last_smtp_answer": answer.last_answer,
    }


@cli.command("why")
@click.argument("email")
@click.option(
    "--date",
    "edition_date",
    callback=parse_date_option,
    default=None,
    metavar="YYYY-MM-DD",
    help="The edition to explain (default: the newest whose send time has passed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def why_command(app: AppContext, email: str, edition_date: date | None, as_json: bool) -> None:
    """Why EMAIL did or did not get a digest.

    Status, suppression, schedule, the edition due, its ledger state and SMTP answer, how many
    papers matched and what was filtered out."""
    answer = why(app.store, app.settings, email, now=datetime.now(UTC), edition_date=edition_date)
    if as_json:
        print_json(why_json(answer))
        return
    edition = answer.edition.isoformat() if answer.edition else "-"
    click.echo(f"{answer.email}: {answer.state} (edition {edition})")
    for reason in answer.reasons:
        click.echo(f"  - {reason}")
