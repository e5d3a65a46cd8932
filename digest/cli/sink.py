"""`digest sink`: a local SMTP server that captures every message into a Maildir."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from digest.cli.app import cli
from digest.cli.sink_server import run_sink


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()  # one line per message, even through a pipe


@cli.command("sink")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=1025,
    show_default=True,
    help="Port to listen on (0 picks a free one and prints it).",
)
@click.option(
    "--maildir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("maildir"),
    show_default=True,
    help="Maildir folder that receives every message (created if missing).",
)
def sink_command(host: str, port: int, maildir: Path) -> None:
    """Capture mail locally: store each message in a Maildir, print one line per message.

    Runs until Ctrl-C or SIGTERM. Point [smtp] host/port at it (the defaults already do).
    """
    run_sink(maildir, host=host, port=port, echo=_echo)
