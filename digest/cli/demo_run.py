"""`make demo`: the whole pipeline on bundled, invented data, in a throw-away folder.

The demo is an ordered list of steps sharing one `DemoState`; each step reports through a
`Reporter` so the core never prints. Later stages of the pipeline add their own steps (import
subscribers, previews, a local sink, a send) by appending to `STEPS`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Protocol

from digest.app.ingest import ingest
from digest.app.preview import write_previews
from digest.app.send import SendSummary, send_editions
from digest.cli.runtime import Runtime
from digest.cli.sink_server import spawn_sink
from digest.models import Paper
from digest.profiles import load_profiles
from digest.settings import Settings
from digest.store import Store
from digest.store import subscribers as subscriber_repo
from digest.store.papers import UpsertCounts, list_papers

SAMPLE = "daily-papers-sample.txt"
DB_NAME = "digest.db"
CONFIG_NAME = "config.toml"
TOP_PAPERS = 10


class Reporter(Protocol):
    """Where the demo tells the operator what happened (the CLI prints with rich)."""

    def step(self, title: str) -> None: ...

    def info(self, text: str) -> None: ...

    def papers(self, papers: Sequence[Paper], title: str) -> None: ...

    def summary(self, summary: SendSummary) -> None: ...


@dataclass
class DemoState:
    directory: Path
    now: datetime
    subscribers_path: Path = Path("subscribers")
    counts: UpsertCounts | None = None
    runtime: Runtime = field(init=False)

    def __post_init__(self) -> None:
        self.runtime = Runtime(self.config_path)

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME

    @property
    def db_path(self) -> Path:
        return self.directory / DB_NAME

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def store(self) -> Store:
        return self.runtime.store

    def close(self) -> None:
        self.runtime.close()


Step = tuple[str, Callable[[DemoState, Reporter], None]]


def demo_config(state: DemoState, secret_key: str) -> str:
    """The demo's settings file: its own database and a fresh signing key."""
    url = f"sqlite:///{state.db_path.resolve()}"
    return (
        "# Written by `digest demo`; regenerated (with a new secret key) on every run.\n"
        "[database]\n"
        f"url = {json.dumps(url)}\n\n"
        "[site]\n"
        f"secret_key = [{json.dumps(secret_key)}]\n"
    )


def prepare(state: DemoState, report: Reporter) -> None:
    state.directory.mkdir(parents=True, exist_ok=True)
    # Only what the demo itself wrote is removed: --dir may point at a folder with other files.
    for suffix in ("", "-wal", "-shm", "-journal"):
        state.db_path.with_name(DB_NAME + suffix).unlink(missing_ok=True)
    state.config_path.write_text(demo_config(state, secrets.token_urlsafe(32)), encoding="utf-8")
    report.info(f"settings: {state.config_path} (fresh secret key)")
    report.info(f"database: {state.db_path}")


def ingest_sample(state: DemoState, report: Reporter) -> None:
    with resources.as_file(resources.files("digest") / "samples" / SAMPLE) as path:
        state.counts = ingest(state.store, [str(path)], now=state.now)
    report.info(
        f"{state.counts.parsed} papers read from the bundled sample, {state.counts.new} stored"
    )


def show_top_papers(state: DemoState, report: Reporter) -> None:
    with state.store.session() as session:
        top = list_papers(session, limit=TOP_PAPERS)
    report.papers(top, f"Top {len(top)} papers")


def import_subscribers(state: DemoState, report: Reporter) -> None:
    profiles = load_profiles(state.subscribers_path)
    with state.store.session() as session:
        for profile in profiles:
            subscriber_repo.import_profile(session, profile, state.now)
    report.info(f"{len(profiles)} example subscribers imported from {state.subscribers_path}/")


def write_demo_previews(state: DemoState, report: Reporter) -> None:
    out = state.directory / "previews"
    written = write_previews(state.store, state.settings, out, now=state.now)
    report.info(f"{written.previews} digests previewed; open {written.index}")


def send_through_sink(state: DemoState, report: Reporter) -> None:
    """Start `digest sink`, send the demo edition to it over real SMTP, stop it."""
    maildir = state.directory / "maildir"
    sink = spawn_sink(maildir)
    try:
        report.info(f"local mail sink listening on {sink.host}:{sink.port}")
        smtp = state.settings.smtp.model_copy(update={"host": sink.host, "port": sink.port})
        settings = state.settings.model_copy(update={"smtp": smtp})
        summary = asyncio.run(send_editions(state.store, settings, now=state.now))
    finally:
        code = sink.stop()
    for line in sink.lines:
        report.info(f"sink | {line}")
    if code != 0:
        report.info(f"the sink exited with status {code}: {sink.errors.strip()}")
    report.summary(summary)
    report.info(f"every message is in the Maildir {maildir}/ (open it with any mail client)")


STEPS: list[Step] = [
    ("Prepare a fresh demo folder", prepare),
    ("Ingest the bundled sample page", ingest_sample),
    ("Show the top papers", show_top_papers),
    ("Import the example subscribers", import_subscribers),
    ("Preview every digest", write_demo_previews),
    ("Send the edition through a local mail sink", send_through_sink),
]


def run_demo(
    directory: Path,
    report: Reporter,
    *,
    now: datetime | None = None,
    steps: Sequence[Step] | None = None,
    subscribers_path: Path = Path("subscribers"),
) -> DemoState:
    """Run every step in order; the first error stops the demo (and names what failed)."""
    state = DemoState(
        directory=directory, now=now or datetime.now(UTC), subscribers_path=subscribers_path
    )
    try:
        for title, step in steps if steps is not None else STEPS:
            report.step(title)
            step(state, report)
    finally:
        state.close()
    return state
