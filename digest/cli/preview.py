"""`digest preview`: write every reader's digest to files, or serve them with live reload."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import click

from digest.cli.app import AppContext, cli, pass_app
from digest.errors import ListenError


@cli.command()
@click.option("--subscriber", "email", metavar="EMAIL", help="Only this subscriber (any status).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("previews"),
    show_default=True,
    help="Folder for <slug>.html, <slug>.txt, <slug>.eml and index.html.",
)
@click.option(
    "--date",
    "edition_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Edition date YYYY-MM-DD (default: each subscriber's current edition).",
)
@click.option("--serve", is_flag=True, help="Serve previews on 127.0.0.1 with live reload.")
@click.option("--port", type=click.IntRange(1, 65535), default=8025, show_default=True)
@pass_app
def preview(
    app: AppContext,
    email: str | None,
    out_dir: Path,
    edition_date: datetime | None,
    serve: bool,
    port: int,
) -> None:
    """Render each active subscriber's digest exactly as `digest send` would send it now.

    The .eml file is the complete message (headers included); nothing is sent and the
    delivery ledger is not touched. A template error stops before anything is written.
    """
    day: date | None = edition_date.date() if edition_date else None
    if serve:
        from digest.web.preview_server import serve_previews

        try:
            serve_previews(app.settings, app.store, port=port, subscriber=email, edition_date=day)
        except ListenError as exc:
            raise exc.within("--port") from None  # the preview server's host is fixed
        return
    from digest.app.preview import write_previews
    from digest.errors import OutputFolderError

    try:
        written = write_previews(
            app.store,
            app.settings,
            out_dir,
            now=datetime.now(UTC),
            subscriber=email,
            edition_date=day,
        )
    except OutputFolderError as exc:
        raise exc.within("--out") from None
    click.echo(f"wrote {written.previews} preview(s) to {out_dir}/; open {written.index}")
