"""`digest subscribers import|list`: operators manage subscribers from TOML profile files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from digest.app.readers import export_readers
from digest.app.stats import gather
from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.errors import ProfileError
from digest.models import Subscriber
from digest.profiles import read_profiles
from digest.store.subscribers import import_profile, list_subscribers


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    """The `digest subscribers list --json` shape (DESIGN.md)."""
    profile = subscriber.profile
    return {
        "email": profile.email,
        "status": subscriber.status,
        "timezone": profile.timezone,
        "cadence": profile.cadence,
        "send_time": profile.send_time,
        "topics": [{"name": t.name, "query": t.query} for t in profile.topics],
    }


@cli.group()
def subscribers() -> None:
    """Import, list, export, unsubscribe and remove subscribers."""


@subscribers.command("import")
@click.argument("path", metavar="FILE_OR_DIR", type=click.Path(path_type=Path))
@pass_app
def import_(app: AppContext, path: Path) -> None:
    """Create or update subscribers from a TOML profile, or every *.toml in a folder.

    Imported subscribers are active: the operator vouches for them. Importing again updates
    them, never duplicates. Each profile is stored in its own transaction after it validated, so
    a bad profile is reported (FILE:LINE) and skipped while the others are imported; the exit
    status is then 2.
    """
    results = read_profiles(path)
    now = datetime.now(UTC)
    created = updated = 0
    for result in results:
        if result.profile is None:
            continue
        with app.store.session() as session:
            _row, new = import_profile(session, result.profile, now)
        created += new
        updated += not new
    bad = [r.error for r in results if r.error is not None]
    for error in bad:
        click.echo(f"error: {error}", err=True)
    summary = f"{created + updated} profiles imported from {path}: {created} new, {updated} updated"
    click.echo(summary + (f"; {len(bad)} rejected." if bad else "."))
    if bad:
        raise ProfileError(f"{len(bad)} of {len(results)} profiles rejected (see above)")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of subscribers.")
@pass_app
def list_(app: AppContext, as_json: bool) -> None:
    """List subscribers with their status, schedule, topics, name and dates, then the counts."""
    if as_json:
        with app.store.session() as session:
            found = list_subscribers(session)
        print_json([subscriber_json(s) for s in found])
        return
    # A page of readers at a time, with their name, join date and last digest, then the counts.
    shown = 0
    for item in export_readers(app.store):
        shown += 1
        s, p = item.subscriber, item.subscriber.profile
        topics = "; ".join(t.name for t in p.topics) or "(trending only)"
        sent = [d.edition for d in item.deliveries if d.status == "sent"]
        last = f"last sent {sent[-1].isoformat()}" if sent else "never sent"
        click.echo(
            f"{p.email:<32} {s.status:<12} {p.cadence:<10} {p.send_time} {p.timezone:<20} "
            f"{topics}\n    {p.name or '(no name)'}; joined {item.created_at.date().isoformat()}; "
            f"{last}"
        )
    if not shown:
        click.echo("No subscribers yet; run `digest subscribers import subscribers/` first.")
        return
    counts = gather(app.store, editions=0).subscribers
    total = ", ".join(f"{status} {n}" for status, n in counts.items())
    click.echo(f"{shown} subscribers: {total}")
