"""Managing a subscription by mail: the unsubscribe address and the command address.

The From address of a mail can be forged, so nothing here tells a stranger anything or lets
one take over an address: every answer goes to the address the command is about, a
`subscribe` only starts double opt-in (the owner gets a confirmation mail, and nothing happens
until they click it), and replies to any one address are capped per window. Topic queries
added by mail are validated exactly as the profile files and the web form validate them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from digest.app.subscription import (
    SignupDecision,
    Step,
    find_by_email,
    notice_not_sent,
    request_subscription,
    unsubscribe,
)
from digest.deliver.message import OutgoingMessage
from digest.deliver.replies import compose_reply
from digest.deliver.transactional import send_now
from digest.errors import DeliveryError, ProfileError
from digest.inbound.commands import Command
from digest.inbound.decide import CommandRequest, UnsubscribeRequest
from digest.models import Profile, Subscriber, Topic
from digest.profiles import profile_from_mapping, topic_table
from digest.settings import Settings
from digest.store import Store
from digest.store.bounces import claim_reply
from digest.store.subscribers import get_by_email, save_profile

log = logging.getLogger(__name__)

HELP = """Commands: write one as the subject, or as the first line, of a mail to {address}.

  subscribe      start a subscription (you confirm it from the mail it sends)
  unsubscribe    stop your digests
  topics         list your topics, numbered
  add QUERY      add a topic, e.g. add "speculative decoding" OR "draft model"
  remove N       remove topic number N
  help           this text
"""


class SignupMessenger(Protocol):
    """Sends the notice a sign-up step calls for (confirmation, or "already subscribed")."""

    async def send_signup_notice(self, decision: SignupDecision, *, now: datetime) -> None: ...


class MailCommands:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        messenger: SignupMessenger,
        *,
        send: Callable[[Settings, OutgoingMessage], Awaitable[None]] = send_now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.messenger = messenger
        self._send = send
        self.list_name = settings.digest.list_name

    # -- the unsubscribe address ---------------------------------------------------------

    async def unsubscribe_address(self, request: UnsubscribeRequest, *, now: datetime) -> str:
        """Unsubscribe the sender if they are subscribed, and tell them; a stranger's mail
        changes nothing and gets no answer."""
        left = await asyncio.to_thread(self._unsubscribe, request.sender, now)
        if left is None:
            return f"unsubscribe from {request.sender}: not a subscriber, nothing done"
        await self.reply(
            left.email,
            "You are unsubscribed",
            f"{left.email} will get no more digests from {self.list_name}.\n"
            f"To subscribe again: {self.settings.site.base_url}/\n",
            now=now,
            to_message=request.message_id,
            via=self.settings.sender.unsubscribe_mailto,
        )
        return f"unsubscribe from {request.sender}: unsubscribed"

    def _unsubscribe(self, address: str, now: datetime) -> Subscriber | None:
        known = find_by_email(self.store, address)
        if known is None or known.status not in ("pending", "active"):
            return None
        return unsubscribe(self.store, known.public_id, now=now)

    # -- the command address -------------------------------------------------------------

    async def command(self, request: CommandRequest, *, now: datetime) -> str:
        command = request.command or Command("help")
        who = request.sender
        if command.problem is not None:
            await self.reply(
                who,
                f"Could not do: {command.verb}",
                f"{command.problem}.\n\n" + self.help(),
                now=now,
                to_message=request.message_id,
            )
            return f"{command.verb} from {who}: {command.problem}"
        if command.verb == "help":
            await self.reply(who, "Help", self.help(), now=now, to_message=request.message_id)
            return f"help from {who}: answered"
        if command.verb == "subscribe":
            return await self._subscribe(who, now)
        if command.verb == "unsubscribe":
            left = await asyncio.to_thread(self._unsubscribe, who, now)
            text = (
                f"{who} will get no more digests from {self.list_name}.\n"
                if left is not None
                else f"{who} is not subscribed to {self.list_name}.\n"
            )
            await self.reply(who, "Unsubscribe", text, now=now, to_message=request.message_id)
            return f"unsubscribe from {who}: {'unsubscribed' if left else 'not a subscriber'}"
        outcome, text = await asyncio.to_thread(self._topics, who, command, now)
        await self.reply(
            who, command.verb.capitalize(), text, now=now, to_message=request.message_id
        )
        return f"{command.verb} from {who}: {outcome}"

    def help(self) -> str:
        return HELP.format(address=self.settings.inbound.command_address)

    async def _subscribe(self, address: str, now: datetime) -> str:
        try:
            profile = profile_from_mapping({"email": address}, where="From")
        except ProfileError as exc:
            return f"subscribe from {address}: {exc}"
        decision = await asyncio.to_thread(self._record_signup, profile, now)
        if decision.step is Step.NOTHING or decision.subscriber is None:
            return f"subscribe from {address}: nothing sent (suppressed, or asked recently)"
        try:
            await self.messenger.send_signup_notice(decision, now=now)
        except DeliveryError:
            await asyncio.to_thread(self._reopen, decision, now)
            raise
        return f"subscribe from {address}: {decision.step.value}"

    def _record_signup(self, profile: Profile, now: datetime) -> SignupDecision:
        window = timedelta(minutes=self.settings.web.confirmation_window_minutes)
        return request_subscription(self.store, profile, now=now, window=window)

    def _reopen(self, decision: SignupDecision, claimed_at: datetime) -> None:
        notice_not_sent(self.store, decision, claimed_at=claimed_at)

    def _topics(self, address: str, command: Command, now: datetime) -> tuple[str, str]:
        """`topics`, `add`, `remove` for an active or pending subscriber: (outcome, reply)."""
        with self.store.session() as session:
            found = get_by_email(session, address)
            if found is None or found.status not in ("pending", "active"):
                return "not a subscriber", f"{address} is not subscribed to {self.list_name}.\n"
            profile = found.profile
            if command.verb == "add":
                topics = [*profile.topics, Topic(command.argument[:100], command.argument)]
            elif command.verb == "remove":
                number = int(command.argument)
                if number > len(profile.topics):
                    return "no such topic", _listing(profile.topics, f"There is no topic {number}.")
                topics = [t for i, t in enumerate(profile.topics, 1) if i != number]
            else:
                return "listed", _listing(profile.topics, "Your topics:")
            try:
                checked = profile_from_mapping(
                    {
                        "email": profile.email,
                        "topics": [topic_table(t) for t in topics],
                    },
                    where="topics",
                )
            except ProfileError as exc:
                return "refused", _listing(profile.topics, f"Not changed: {exc}.\n\nYour topics:")
            save_profile(session, found.id, replace(profile, topics=checked.topics), now)
            done = "added" if command.verb == "add" else "removed"
            return done, _listing(checked.topics, f"Topic {done}. Your topics:")

    # -- replies -----------------------------------------------------------------------------

    async def reply(
        self,
        recipient: str,
        subject: str,
        text: str,
        *,
        now: datetime,
        to_message: str | None,
        via: str | None = None,
    ) -> bool:
        """Send a short answer unless this address had its share of replies this window;
        False when it was held back or the mail server did not take it."""
        inbound = self.settings.inbound
        window = timedelta(minutes=inbound.reply_window_minutes)
        allowed = await asyncio.to_thread(self._claim_reply, recipient, now, window)
        if not allowed:
            log.info("reply to %s held back: reply limit reached", recipient)
            return False
        sender = via or inbound.command_address or self.settings.sender.from_address
        message = compose_reply(
            self.settings,
            sender=sender,
            recipient=recipient,
            subject=f"{self.list_name}: {subject}",
            text=text,
            now=now,
            in_reply_to=to_message,
        )
        try:
            await self._send(self.settings, message)
        except DeliveryError as exc:
            # The change is made and the message accepted: asking the MTA to retry would only
            # carry the command out twice. The reader can ask again.
            log.warning("reply to %s not sent: %s", recipient, exc)
            return False
        return True

    def _claim_reply(self, recipient: str, now: datetime, window: timedelta) -> bool:
        limit = self.settings.inbound.replies_per_address
        with self.store.session() as session:
            return claim_reply(session, recipient, now, limit=limit, window=window)


def _listing(topics: tuple[Topic, ...] | list[Topic], heading: str) -> str:
    if not topics:
        return f"{heading}\n  (none yet: add one with  add QUERY)\n"
    lines = [
        f"  {n}. {t.name}: {t.query}" if t.name != t.query else f"  {n}. {t.query}"
        for n, t in enumerate(topics, 1)
    ]
    return "\n".join([heading, *lines]) + "\n"
