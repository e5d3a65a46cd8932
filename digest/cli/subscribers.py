"""`digest subscribers import|list`: operators manage subscribers from TOML profile files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import click

from digest.app.readers import export_readers
from digest.app.stats import gather
from digest.cli.app import AppContext, cli, pass_app, print_json
from digest.models import Profile, Subscriber, Topic
from digest.profiles.stream import iter_profiles
from digest.store.profile_import import import_batch
from digest.store.subscribers import Status, list_subscribers

# Profiles per transaction: large enough that a commit is rare, small enough for an `IN` list.
IMPORT_BATCH = 500


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    """The `digest subscribers list --json` shape (DESIGN.md)."""
    profile = subscriber.profile
    return {
        "email": profile.email,
        "status": subscriber.status,
        "timezone": profile.timezone,
        "cadence": profile.cadence,
        "send_time": profile.send_time,
        "topics": [{"name": t.name, "query": t.query, **_like(t)} for t in profile.topics],
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
    them, never duplicates. Profiles are read one at a time and stored in batches of
    IMPORT_BATCH, each in its own transaction once its profiles validated, so a file of 100,000
    profiles works in flat memory; a bad profile is reported (FILE:LINE) and skipped while the
    others are imported; the exit status is then 2.
    """
    now = datetime.now(UTC)
    created = updated = rejected = 0
    batch: list[tuple[Profile, Status]] = []

    def store_batch() -> None:
        nonlocal created, updated
        with app.store.session() as session:
            new = import_batch(session, batch, now)
        created += sum(new)
        updated += len(new) - sum(new)
        batch.clear()

    for result in iter_profiles(path):
        if result.error is not None:
            click.echo(f"error: {result.error}", err=True)
            rejected += 1
            continue
        assert result.profile is not None
        batch.append((result.profile, cast(Status, result.status)))
        if len(batch) >= IMPORT_BATCH:
            store_batch()
    if batch:
        store_batch()
    summary = f"{created + updated} profiles imported from {path}: {created} new, {updated} updated"
    click.echo(summary + (f"; {rejected} rejected." if rejected else "."))
    if rejected:  # each rejected profile had its one line on stderr; the summary says how many
        raise click.exceptions.Exit(2)


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


def _like(topic: Topic) -> dict[str, list[str]]:
    """A topic by example also lists its examples (`like`)."""
    return {"like": list(topic.like)} if topic.like else {}
