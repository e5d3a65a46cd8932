"""`digest match --subscriber EMAIL`: what that reader's digest would carry now, and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import click

from digest.app.feedback import subscriber_matches
from digest.cli.app import AppContext, print_json
from digest.cli.match import match_json
from digest.match.aliases import load_aliases
from digest.models import Topic


def show_subscriber(
    app: AppContext,
    email: str,
    *,
    as_json: bool,
    limit: int | None,
    explain: Callable[[Sequence[Topic]], None] | None = None,
) -> None:
    aliases = load_aliases(app.settings.match.aliases_file)
    subscriber, found = subscriber_matches(
        app.store, email, now=datetime.now(UTC), limit=limit, aliases=aliases
    )
    if explain is not None:
        explain(subscriber.profile.topics)
    if as_json:
        print_json([match_json(m) for m in found])
        return
    if not found:
        click.echo("No stored paper matches this reader's topics or ratings.")
        return
    for position, m in enumerate(found, start=1):
        topics = f" [{', '.join(m.topics)}]" if m.topics else ""
        click.echo(f"{position:>3}. {m.score:.3f}  {m.paper.title}{topics}")
        if m.matched:
            click.echo("       matched: " + ", ".join(f"{r.term} ({r.field})" for r in m.matched))
        for reason in m.because:
            click.echo(f"       because: {reason}")
