"""What one inbound message to one of our addresses is, decided from its bytes alone.

The address it was sent to says what to look for: a bounce address names a delivery (VERP),
the unsubscribe address takes its sender off the list, the command address takes commands.
An abuse report is recognised wherever it arrives. Anything that cannot be acted on safely
(a forged bounce address, an automatic reply, a report nobody signed) is `Ignored`, with the
reason, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Literal

from digest.inbound.arf import Feedback, feedback
from digest.inbound.automatic import automatic_reason
from digest.inbound.commands import Command, read_command
from digest.inbound.dsn import Failure, delivery_failures
from digest.inbound.reading import address, first_text, header, parse
from digest.inbound.verp import VerpCodec

Role = Literal["bounces", "unsubscribe", "commands"]


@dataclass(frozen=True, slots=True)
class InboundAddresses:
    """The addresses this server takes mail for; each one is optional."""

    verp: VerpCodec | None = None
    unsubscribe: str | None = None
    commands: str | None = None

    def role(self, recipient: str) -> Role | None:
        key = recipient.strip().strip("<>").casefold()
        if self.verp is not None and self.verp.owns(key):
            return "bounces"
        if self.unsubscribe is not None and key == self.unsubscribe.casefold():
            return "unsubscribe"
        if self.commands is not None and key == self.commands.casefold():
            return "commands"
        return None


@dataclass(frozen=True, slots=True)
class Bounce:
    delivery_id: int
    failures: tuple[Failure, ...]

    @property
    def worst(self) -> Failure:
        """A digest has one recipient; should a report list several, the hardest counts."""
        return min(self.failures, key=lambda f: f.severity != "hard")


@dataclass(frozen=True, slots=True)
class Complaint:
    """An abuse report; `delivery_id` when a signed bounce address named the delivery, and the
    original's unsubscribe links (signed tokens the use case verifies)."""

    feedback_type: str
    delivery_id: int | None
    unsubscribe_links: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    sender: str  # the From address: it may be forged, so only its owner is ever told
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    sender: str
    command: Command | None  # None: nothing recognisable, answered with help
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


Decision = Bounce | Complaint | UnsubscribeRequest | CommandRequest | Ignored


def decide(data: bytes, *, mail_from: str, recipient: str, addresses: InboundAddresses) -> Decision:
    message = parse(data)
    role = addresses.role(recipient)
    report = feedback(message)
    if report is not None:
        return _complaint(report, recipient, addresses)
    if role is None:
        return Ignored(f"{recipient!r} is not one of our addresses")
    if role == "bounces":
        return _bounce(message, recipient, addresses)
    reason = automatic_reason(message, mail_from)
    if reason is not None:
        return Ignored(f"never answered: {reason}")
    sender = address(header(message, "From"))
    if sender is None:
        return Ignored("no usable From address")
    message_id = header(message, "Message-ID") or None
    if role == "unsubscribe":
        return UnsubscribeRequest(sender, message_id)
    command = read_command(header(message, "Subject"), first_text(message))
    return CommandRequest(sender, command, message_id)


def _bounce(message: Message, recipient: str, addresses: InboundAddresses) -> Decision:
    assert addresses.verp is not None
    delivery_id = addresses.verp.delivery(recipient)
    if delivery_id is None:
        return Ignored("bounce address not signed by us (forged or mangled)")
    failures = tuple(delivery_failures(message))
    if not failures:
        return Ignored("no delivery failure found (an auto-reply or a success notice)")
    return Bounce(delivery_id, failures)


def _complaint(report: Feedback, recipient: str, addresses: InboundAddresses) -> Decision:
    if not report.is_complaint:
        kind = report.feedback_type or "none"
        return Ignored(f"feedback report of type {kind!r}, not a complaint")
    delivery_id = None
    if addresses.verp is not None:
        for candidate in (recipient, report.original_mail_from):
            if candidate and (delivery_id := addresses.verp.delivery(candidate)) is not None:
                break
    if delivery_id is None and not report.unsubscribe_links:
        return Ignored("complaint that names no delivery we signed")
    return Complaint(report.feedback_type, delivery_id, report.unsubscribe_links)
