"""`digest subscribers unsubscribe|remove|export`, `digest suppressions list|lift` and
`digest backup PATH`: managing the list by hand, and a data request answered."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from digest.app import readers
from digest.cli.app import AppContext, cli, pass_app
from digest.cli.subscribers import subscriber_json, subscribers
from digest.store.exports import Exported
from digest.store.suppressions import Suppression


def _when(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


def exported_json(item: Exported) -> dict[str, Any]:
    """Every stored field of one reader (the `subscribers list` keys first)."""
    subscriber = item.subscriber
    profile = subscriber.profile
    return {
        **subscriber_json(subscriber),
        "name": profile.name,
        "max_papers": profile.max_papers,
        "min_upvotes": profile.min_upvotes,
        "trending": profile.trending,
        "origin": item.origin,
        "created_at": _when(item.created_at),
        "updated_at": _when(item.updated_at),
        "confirmed_at": _when(item.confirmed_at),
        "unsubscribed_at": _when(item.unsubscribed_at),
        "deliveries": [
            {"edition": d.edition.isoformat(), "status": d.status, "sent_at": _when(d.sent_at)}
            for d in item.deliveries
        ],
    }


def suppression_json(item: Suppression) -> dict[str, Any]:
    return {"email": item.email, "reason": item.reason, "since": item.since.isoformat()}


def stream_json_array(items: Iterable[dict[str, Any]]) -> None:
    """One JSON array on stdout, written an element at a time (flat memory)."""
    click.echo("[", nl=False)
    for n, item in enumerate(items):
        click.echo(("," if n else "") + "\n  " + json.dumps(item, ensure_ascii=False), nl=False)
    click.echo("\n]")


def _toml(value: Any) -> str:
    # JSON's string escapes are valid TOML basic strings; booleans and integers agree too.
    return json.dumps(value, ensure_ascii=False)


def exported_toml(item: Exported) -> str:
    """One `[[subscribers]]` table that `digest subscribers import` reads back."""
    data = exported_json(item)
    lines = [
        f"# joined {data['created_at']}, {len(item.deliveries)} edition(s) in the ledger",
        "[[subscribers]]",
    ]
    for key in ("email", "status", "name", "timezone", "cadence", "send_time"):
        if data[key] is not None:
            lines.append(f"{key} = {_toml(data[key])}")
    for key in ("max_papers", "min_upvotes", "trending"):
        lines.append(f"{key} = {_toml(data[key])}")
    for topic in data["topics"]:
        lines += ["[[subscribers.topics]]", f"name = {_toml(topic['name'])}"]
        if topic["query"] or not topic.get("like"):
            lines.append(f"query = {_toml(topic['query'])}")
        if topic.get("like"):
            lines.append(f"like = [{', '.join(_toml(entry) for entry in topic['like'])}]")
    return "\n".join(lines) + "\n"


@subscribers.command("unsubscribe")
@click.argument("email")
@pass_app
def unsubscribe_command(app: AppContext, email: str) -> None:
    """Unsubscribe EMAIL, as their own unsubscribe link does (a bounced address stays so)."""
    done = readers.unsubscribe_reader(app.store, email, now=datetime.now(UTC))
    status = done.subscriber.status
    if done.was == status:
        click.echo(f"{done.subscriber.email}: already {status}; nothing changed")
    else:
        click.echo(f"{done.subscriber.email}: {status} (was {done.was})")


@subscribers.command("remove")
@click.argument("email")
@pass_app
def remove_command(app: AppContext, email: str) -> None:
    """Erase EMAIL and everything stored about them (topics, ratings, ledger): a data request.

    Their address stays on the suppression list only if they bounced or complained."""
    kept = readers.remove_reader(app.store, email, now=datetime.now(UTC))
    tail = "; the address stays suppressed (it bounced or complained)" if kept else ""
    click.echo(f"{email}: removed with all their data{tail}")


@subscribers.command("export")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array with every field.")
@pass_app
def export_command(app: AppContext, as_json: bool) -> None:
    """Every reader with every stored field, streamed: TOML profiles that `digest subscribers
    import` reads back (status and dates as comments), or with --json everything as JSON."""
    items = readers.export_readers(app.store)
    if as_json:
        stream_json_array(exported_json(item) for item in items)
        return
    for n, item in enumerate(items):
        click.echo(("\n" if n else "") + exported_toml(item), nl=False)


@cli.group("suppressions")
def suppressions() -> None:
    """Addresses never mailed again (hard bounces, complaints): list them, lift one."""


@suppressions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_app
def list_command(app: AppContext, as_json: bool) -> None:
    """Every suppressed address, with why and since when."""
    items = readers.suppressions(app.store)
    if as_json:
        stream_json_array(suppression_json(item) for item in items)
        return
    empty = True
    for item in items:
        empty = False
        click.echo(f"{item.email:<40} {item.since.date().isoformat()}  {item.reason}")
    if empty:
        click.echo("No suppressed addresses.")


@suppressions.command("lift")
@click.argument("email")
@pass_app
def lift_command(app: AppContext, email: str) -> None:
    """Take EMAIL off the suppression list. A reader held only by a bounce is active again; one
    who unsubscribed or complained stays unsubscribed."""
    lifted = readers.lift_suppression(app.store, email, now=datetime.now(UTC))
    tail = "; the reader is active again" if lifted.reactivated else ""
    click.echo(
        f"{lifted.suppression.email}: suppression lifted ({lifted.suppression.reason}){tail}"
    )


@cli.command("backup")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@pass_app
def backup_command(app: AppContext, path: Path) -> None:
    """Write a consistent copy of the SQLite database to PATH, safe while it is in use.

    PATH must be a new file; the sender and the web app may keep running. For PostgreSQL, use
    pg_dump."""
    size = readers.backup(app.settings.database.url, path)
    click.echo(f"backed up {app.settings.database.url} to {path} ({size} bytes)")
