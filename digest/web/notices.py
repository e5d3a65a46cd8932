"""Transactional mails of the subscription workflow: confirm, already subscribed, welcome.

They are sent the moment the reader acts, through the delivery layer's `send_now` (never queued
for a scheduler tick, so they work under `digest serve --no-scheduler` too). Bodies are Jinja
templates (`web/mail/<notice>.txt.j2` and `.html.j2`); every header value is built from settings
and a validated address, and `build_mime` refuses anything carrying a line break.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from typing import Any

from jinja2 import Environment

from digest.deliver.headers import domain_of, format_address, validate_address
from digest.deliver.message import OutgoingMessage, build_mime
from digest.deliver.transactional import send_now
from digest.errors import ConfigError, DeliveryError
from digest.settings import Settings


class Notice(StrEnum):
    CONFIRM = "confirm"
    ALREADY_SUBSCRIBED = "already-subscribed"
    WELCOME = "welcome"


SUBJECTS: dict[Notice, str] = {
    Notice.CONFIRM: "Confirm your subscription to {list_name}",
    Notice.ALREADY_SUBSCRIBED: "You are already subscribed to {list_name}",
    Notice.WELCOME: "Welcome to {list_name}",
}


class Notices:
    """Composes and sends one kind of notice to one address."""

    def __init__(self, settings: Settings, environment: Environment) -> None:
        self._settings = settings
        self._environment = environment
        sender = settings.sender
        try:
            self._from = format_address(
                sender.from_name, sender.from_address, field="[sender] from_address"
            )
            self._reply_to = (
                validate_address(sender.reply_to, field="[sender] reply_to")
                if sender.reply_to
                else None
            )
            self._domain = domain_of(validate_address(sender.from_address, field="from_address"))
        except DeliveryError as exc:
            raise ConfigError(str(exc)) from None

    def compose(
        self,
        notice: Notice,
        recipient: str,
        context: Mapping[str, Any],
        *,
        now: datetime,
        subscriber_id: int | None = None,
    ) -> OutgoingMessage:
        to = validate_address(recipient, field="recipient")
        sender = self._settings.sender
        list_name = self._settings.digest.list_name
        values = {
            "list_name": list_name,
            "email": to,
            "postal_address": sender.postal_address,
            "base_url": self._settings.site.base_url,
            **context,
        }
        text = self._environment.get_template(f"web/mail/{notice.value}.txt.j2").render(values)
        html = self._environment.get_template(f"web/mail/{notice.value}.html.j2").render(values)
        message_id = make_msgid(idstring=notice.value.replace("-", ""), domain=self._domain)
        # build_mime validates (no CR/LF/NUL), encodes (RFC 2047) and folds every value.
        headers = [
            ("Date", format_datetime(now.astimezone(UTC))),
            ("From", self._from),
            ("To", to),
            ("Subject", SUBJECTS[notice].format(list_name=list_name)),
            ("Message-ID", message_id),
            ("Auto-Submitted", "auto-generated"),
        ]
        if self._reply_to is not None:
            headers.insert(3, ("Reply-To", self._reply_to))
        return OutgoingMessage(
            recipient=to,
            message_id=message_id,
            data=build_mime(headers, text, html),
            subscriber_id=subscriber_id,
            edition=None,
        )

    async def send(
        self,
        notice: Notice,
        recipient: str,
        context: Mapping[str, Any],
        *,
        now: datetime,
        subscriber_id: int | None = None,
    ) -> None:
        """Hand the notice to the SMTP server now; DeliveryError subclasses say why not."""
        message = self.compose(notice, recipient, context, now=now, subscriber_id=subscriber_id)
        await send_now(self._settings, message)
