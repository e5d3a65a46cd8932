"""What mail that comes back changes: the use case `digest inbound` hands every decision to.

- A bounce to a signed VERP address: a hard one (5.x.x) marks that delivery `bounced` and
  suppresses exactly that reader; a soft one (4.x.x) notes itself on the delivery and counts
  towards the reader's bounce score (`[bounces]`), which suppresses past its threshold.
- An abuse report naming a delivery we signed (its VERP address, or the signed unsubscribe link
  in the quoted original): that reader is unsubscribed and suppressed.
- Mail to the unsubscribe address and to the command address: `MailCommands`.
- Anything `Ignored` changes nothing; it is only reported.

Implements `digest.inbound.server.InboundHandler`. Each outcome is reported as one line (the
command prints them) and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from digest.app.mail_commands import MailCommands, SignupMessenger
from digest.app.tokens import Purpose, Signer
from digest.deliver.headers import validate_address
from digest.errors import ConfigError, DeliveryError, TokenError
from digest.inbound.decide import (
    Bounce,
    CommandRequest,
    Complaint,
    Decision,
    Ignored,
    InboundAddresses,
    UnsubscribeRequest,
)
from digest.inbound.verp import VerpCodec
from digest.settings import Settings
from digest.store import Store
from digest.store.bounces import (
    BounceOutcome,
    ScorePolicy,
    record_complaint,
    record_hard_bounce,
    record_soft_bounce,
)

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class InboundMail:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        messenger: SignupMessenger,
        *,
        report: Callable[[str], None] | None = None,
        clock: Clock = _now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.signer = Signer(settings.secret_keys)
        self.commands = MailCommands(store, settings, messenger)
        self.policy = ScorePolicy(
            per_day=settings.bounces.soft_score_per_day,
            threshold=settings.bounces.soft_threshold,
            reset_days=settings.bounces.soft_reset_days,
        )
        self._report = report
        self._clock = clock

    def report(self, line: str) -> None:
        log.info("%s", line)
        if self._report is not None:
            self._report(line)

    async def handle(self, decision: Decision, *, recipient: str) -> None:
        now = self._clock()
        if isinstance(decision, Bounce):
            line = await asyncio.to_thread(self._bounce, decision, now)
        elif isinstance(decision, Complaint):
            line = await asyncio.to_thread(self._complaint, decision, now)
        elif isinstance(decision, UnsubscribeRequest):
            line = await self.commands.unsubscribe_address(decision, now=now)
        elif isinstance(decision, CommandRequest):
            line = await self.commands.command(decision, now=now)
        else:
            assert isinstance(decision, Ignored)
            line = f"ignored mail to {recipient}: {decision.reason}"
        self.report(line)

    def _bounce(self, bounce: Bounce, now: datetime) -> str:
        failure = bounce.worst
        reason = failure.describe()
        outcome: BounceOutcome | None
        with self.store.session() as session:
            if failure.severity == "hard":
                outcome = record_hard_bounce(session, bounce.delivery_id, reason, now)
            else:
                outcome = record_soft_bounce(session, bounce.delivery_id, reason, now, self.policy)
        if outcome is None:
            return f"bounce for delivery {bounce.delivery_id}: no such delivery any more"
        who = outcome.subscriber.email
        if failure.severity == "hard":
            return f"bounce for {who}: {reason}; suppressed"
        state = "suppressed" if outcome.suppressed else "still mailed"
        return f"bounce for {who}: {reason}; score {outcome.score:g}, {state}"

    def _complaint(self, complaint: Complaint, now: datetime) -> str:
        public_ids = [p for p in map(self._signed_reader, complaint.unsubscribe_links) if p]
        reason = f"complaint ({complaint.feedback_type})"
        with self.store.session() as session:
            subscriber = record_complaint(session, complaint.delivery_id, public_ids, reason, now)
        if subscriber is None:
            return "complaint ignored: it names no delivery or reader we signed"
        return f"complaint from {subscriber.email}: unsubscribed and suppressed"

    def _signed_reader(self, link: str) -> str | None:
        """The reader an unsubscribe link we signed names, or None. Unsubscribe links never
        expire (tokens.MAX_AGE_SECONDS): a complaint about a digest mailed years ago is still
        about us, and the signature is what proves it."""
        token = link.rstrip("/").rpartition("/unsubscribe/")[2]
        if not token:
            return None
        try:
            return self.signer.verify(Purpose.UNSUBSCRIBE, token)
        except TokenError:
            return None


def inbound_addresses(settings: Settings) -> InboundAddresses:
    """The addresses `digest inbound` takes mail for, from the settings; at least one."""
    domain = settings.bounces.domain
    addresses = InboundAddresses(
        verp=VerpCodec(settings.secret_keys, domain) if domain else None,
        unsubscribe=settings.sender.unsubscribe_mailto,
        commands=settings.inbound.command_address,
    )
    if addresses.verp is None and addresses.unsubscribe is None and addresses.commands is None:
        raise ConfigError(
            "nothing to receive: set [bounces] domain, [sender] unsubscribe_mailto or "
            "[inbound] command_address"
        )
    for field, value in (
        ("[sender] unsubscribe_mailto", addresses.unsubscribe),
        ("[inbound] command_address", addresses.commands),
    ):
        if value is not None:
            try:
                validate_address(value, field=field)
            except DeliveryError as exc:
                raise ConfigError(str(exc)) from None
    return addresses
