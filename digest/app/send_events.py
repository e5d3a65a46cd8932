"""What a send run tells its caller: the summary, one event per reader, and the sender check
run before anything is claimed (the run itself is `digest.app.send`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Literal

from digest.deliver.headers import check_value, format_address
from digest.deliver.smtp import envelope_address
from digest.settings import Settings

EventKind = Literal[
    "start", "sent", "skipped", "deferred", "failed", "bounced", "unchanged", "held", "resumed"
]
OUTCOMES = ("sent", "skipped", "deferred", "failed", "bounced")


@dataclass
class SendSummary:
    """What this run did (a dry run: what it would do). Readers already served are not counted."""

    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def nothing_accepted(self) -> bool:
        """There were messages to hand over and the server took none: it is down (or refuses
        every connection). Cron, monitors and alerts must see this as a failure; a partial
        success is not one."""
        return self.sent == 0 and self.deferred > 0


@dataclass(frozen=True, slots=True)
class SendEvent:
    """One step of the run for a progress display. `start` carries the number of readers
    considered (when known); every reader then yields one event: an outcome, `unchanged`
    (already served) or `held` (another sender holds it: `error` is "live" when that sender is
    provably alive, "unknown" when only its lease, `[smtp] claim_lease_seconds`, can tell).
    `resumed` carries in `total` how many claims were taken over from senders that died."""

    kind: EventKind
    email: str | None = None
    edition: date | None = None
    error: str | None = None
    attempts: int = 0
    total: int | None = None


Progress = Callable[[SendEvent], None]


def check_sender(settings: Settings) -> None:
    """Fail before the first claim when the sender settings cannot make a valid message:
    otherwise every reader would be marked failed for the operator's typo."""
    sender = settings.sender
    format_address(sender.from_name, sender.from_address, field="[sender] from_address")
    envelope_address(sender.from_address, role="[sender] from_address")
    if sender.reply_to:
        format_address(None, sender.reply_to, field="[sender] reply_to")
    if sender.unsubscribe_mailto:
        format_address(None, sender.unsubscribe_mailto, field="[sender] unsubscribe_mailto")
    check_value("[sender] list_id", sender.list_id)
    check_value("[digest] list_name", settings.digest.list_name)
