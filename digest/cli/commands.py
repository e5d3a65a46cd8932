"""Which module defines each top-level command, and the line `digest --help` shows for it.

`digest --version` and `digest --help` must start in a blink, so the command modules (and the
libraries they pull in: SQLAlchemy, Alembic, pydantic, httpx, rich…) are imported only when one
of their commands runs. This table is what the command group needs to know without importing
them; tests/test_cli_startup.py checks that it matches the commands themselves. A command
module missing from it still works (it is found by scanning the package), only slower.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    modules: tuple[str, ...]  # modules of digest.cli that define the command (and subcommands)
    summary: str  # the first paragraph of its help


# Modules of digest.cli that define no command.
SUPPORT = frozenset(
    {
        "app",
        "commands",
        "demo_run",
        "logs",
        "match_subscriber",
        "runtime",
        "send_progress",
        "sink_server",
    }
)

COMMANDS: dict[str, Entry] = {
    "backup": Entry(
        ("manage",),
        "Write a consistent copy of the SQLite database to PATH, safe while it is in use.",
    ),
    "db": Entry(("db",), "Manage the database schema."),
    "demo": Entry(
        ("demo",), "Run the whole pipeline on the bundled sample in a fresh demo folder."
    ),
    "due": Entry(
        ("serve",),
        "Who would be sent which edition at an instant (ledger and catch_up_hours honoured).",
    ),
    "eval": Entry(
        ("evaluate",),
        "Score each topic's query in FILE against the stored papers (precision, recall, F1, nDCG).",
    ),
    "feedback": Entry(
        ("feedback",),
        "Record a reader's rating of one stored paper: up (more like this), down (less like "
        "this) or clear. Their next digest is ranked with it.",
    ),
    "inbound": Entry(
        ("inbound",),
        "Receive mail that comes back: bounces, complaints, unsubscribe mail, commands by mail.",
    ),
    "ingest": Entry(
        ("ingest",), "Store the papers of each SOURCE: a file, `-` for stdin, or an http(s) URL."
    ),
    "match": Entry(
        ("match",),
        "Rank the stored papers against --query Q, the topics of --profile FILE, or what "
        "--subscriber EMAIL's digest would carry, best first.",
    ),
    "papers": Entry(("ingest",), "List stored papers, newest and most upvoted first."),
    "preview": Entry(
        ("preview",),
        "Render each active subscriber's digest exactly as `digest send` would send it now.",
    ),
    "send": Entry(
        ("send",), "Send the current edition to every active reader who has not had it yet."
    ),
    "serve": Entry(("serve",), "Run the scheduler and the web app in one process."),
    "sink": Entry(
        ("sink",),
        "Capture mail locally: store each message in a Maildir, print one line per message.",
    ),
    "stats": Entry(
        ("stats",),
        "Subscribers by status, the last 30 editions by outcome, and each source's last ingest.",
    ),
    "subscribers": Entry(
        ("manage", "subscribers"), "Import, list, export, unsubscribe and remove subscribers."
    ),
    "suppressions": Entry(
        ("manage",), "Addresses never mailed again (hard bounces, complaints): list them, lift one."
    ),
    "why": Entry(("why",), "Why EMAIL did or did not get a digest."),
}
