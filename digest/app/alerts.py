"""No silent failures: a scheduled ingest that failed or found no papers, and a send that the
mail server accepted nothing of, become alerts. Every alert is logged as an error; when
`[alerts] email` is set it is also mailed to the operator, at most once per condition per day
(the store remembers what went out), so a source that is down all day sends one mail, not 1440.

Conditions are stable strings ("ingest-failed:<source>", "ingest-empty:<source>",
"send-nothing-accepted"): the daily limit applies per source, and a second source failing the
same morning is news worth its own mail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from digest.app.send import SendSummary
from digest.deliver.alerts import compose_alert
from digest.deliver.transactional import send_now
from digest.errors import DigestError
from digest.settings import Settings
from digest.store import Store, alerts, ingest_runs
from digest.store.ingest_runs import IngestRun

log = logging.getLogger("digest.alerts")

# opscli's ingest marks sources that were read but not stored because another one failed.
_NOT_STORED = "not stored: "


@dataclass(frozen=True, slots=True)
class Alert:
    condition: str
    subject: str
    text: str


def ingest_alerts(
    runs: Sequence[IngestRun], *, failure: str | None = None, sources: Sequence[str] = ()
) -> list[Alert]:
    """Alerts for one ingest from its history rows: each source that failed, each that gave 0
    papers. `failure` is the error the ingest raised, reported on its own if no row names it
    (the database refused the rows, say). `sources` is what was configured: one that has no
    row at all was never reached."""
    found: list[Alert] = []
    named = False
    for run in runs:
        if run.error is not None and not run.error.startswith(_NOT_STORED):
            named = True
            found.append(
                Alert(
                    f"ingest-failed:{run.source}",
                    f"ingest failed: {run.source}",
                    f"Reading {run.source} failed at {run.started_at:%Y-%m-%d %H:%M} UTC:\n"
                    f"{run.error}\n\nNothing from this ingest was stored; the next scheduled "
                    "run tries again. Check the source (its address, or whether its format "
                    "changed) and see /admin/ingest.",
                )
            )
        elif run.error is None and run.parsed == 0:
            found.append(
                Alert(
                    f"ingest-empty:{run.source}",
                    f"no papers from {run.source}",
                    f"The ingest at {run.started_at:%Y-%m-%d %H:%M} UTC read {run.source} "
                    "without error but found 0 papers. The source may be empty today, or its "
                    "format may have drifted so that nothing parses any more.",
                )
            )
    if failure is not None and not named:
        found.append(
            Alert(
                "ingest-failed",
                "ingest failed",
                f"The scheduled ingest of {', '.join(sources) or 'the sources'} failed:\n"
                f"{failure}\n\nNothing was stored; the next scheduled run tries again.",
            )
        )
    return found


def runs_since(store: Store, started: datetime, sources: Sequence[str]) -> list[IngestRun]:
    """The history rows one ingest, begun at `started`, left for these sources."""
    wanted = {"<stdin>" if spec == "-" else spec for spec in sources}
    with store.session() as session:
        latest = ingest_runs.latest_per_source(session)
    return [run for run in latest if run.source in wanted and run.started_at >= started]


def send_alert(summary: SendSummary) -> Alert | None:
    """A send that had digests to hand over and got none accepted (`nothing_accepted`, the
    same rule that makes `digest send` exit 75)."""
    if not summary.nothing_accepted:
        return None
    return Alert(
        "send-nothing-accepted",
        "no digest was accepted by the mail server",
        f"A send had digests to deliver and the mail server accepted none ({summary.deferred} "
        f"deferred, {summary.failed} failed, {summary.bounced} bounced). Deferred digests are "
        "retried by the next run; check [smtp] settings and the server (see /admin for each "
        "reader's last SMTP answer).",
    )


class Alerter:
    """Logs alerts and mails them to `[alerts] email` under the once-a-day rule."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def raise_alerts(self, found: Sequence[Alert], *, now: datetime) -> int:
        """How many were mailed. Never raises: an alert must not break the job it reports on."""
        mailed = 0
        for alert in found:
            log.error("ALERT %s", alert.text.replace("\n", " "))
            recipient = self.settings.alerts.email
            if recipient is None:
                continue
            day = now.astimezone(UTC).date()
            try:
                if not await asyncio.to_thread(self._claim, alert, day, now):
                    log.info("alert %s was already mailed today", alert.condition)
                    continue
                message = compose_alert(
                    self.settings,
                    recipient=recipient,
                    subject=alert.subject,
                    text=alert.text,
                    now=now,
                )
                await send_now(self.settings, message)
            except DigestError as exc:
                log.error("could not mail the alert %s: %s", alert.condition, exc)
                await asyncio.to_thread(self._release, alert, day)
                continue
            mailed += 1
        return mailed

    def _claim(self, alert: Alert, day: date, now: datetime) -> bool:
        with self.store.session() as session:
            return alerts.claim(session, alert.condition, day, alert.text, now)

    def _release(self, alert: Alert, day: date) -> None:
        try:
            with self.store.session() as session:
                alerts.release(session, alert.condition, day)
        except DigestError as exc:
            log.error("could not release the alert %s: %s", alert.condition, exc)
