"""`digest feedback EMAIL PAPER_ID up|down|clear`: rate a paper for a reader, as the digest's
"more like this" / "less like this" links do."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from digest.app.feedback import CHOICES, rate
from digest.cli.app import AppContext, cli, pass_app, print_json


@cli.command()
@click.argument("email")
@click.argument("paper_id")
@click.argument("rating", type=click.Choice(CHOICES))
@click.option("--json", "as_json", is_flag=True, help='Print {"email", "paper", "rating"}.')
@pass_app
def feedback(app: AppContext, email: str, paper_id: str, rating: str, as_json: bool) -> None:
    """Record a reader's rating of one stored paper: up (more like this), down (less like
    this) or clear. Their next digest is ranked with it."""
    rated = rate(app.store, email, paper_id, rating, now=datetime.now(UTC))
    if as_json:
        print_json(
            {"email": rated.subscriber.email, "paper": rated.paper.id, "rating": rated.rating}
        )
        return
    if rated.rating is None:
        click.echo(f"Cleared the rating of {rated.paper.id} for {rated.subscriber.email}.")
    else:
        click.echo(f"Rated {rated.paper.id} {rated.rating} for {rated.subscriber.email}.")
