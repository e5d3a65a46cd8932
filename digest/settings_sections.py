"""The settings sections of the mail that comes back and of operating the list. They live
apart from `digest.settings` (which imports them) only to keep each module small; import them
from `digest.settings` like every other section."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class BouncesSettings(Section):
    # VERP is on when set: each digest's envelope sender becomes bounces+<signed>@domain.
    domain: str | None = None
    # Mailman's bounce score: a day with soft bounces adds this much…
    soft_score_per_day: float = Field(1.0, gt=0)
    # …the reader is suppressed once the score reaches this…
    soft_threshold: float = Field(5.0, gt=0)
    # …and the score starts again from zero after this many days without a bounce.
    soft_reset_days: int = Field(7, ge=1)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        domain = value.strip().lower()
        if not _DOMAIN.match(domain):
            raise ValueError("expected a mail domain such as bounces.example.org")
        return domain


class InboundSettings(Section):
    # Address that takes commands by mail (subscribe, unsubscribe, topics, add, remove, help).
    command_address: str | None = None
    # Largest message `digest inbound` accepts, in bytes (a bounce quotes the digest).
    max_message_bytes: int = Field(1_048_576, ge=65536)
    # At most this many replies to one address per reply window.
    replies_per_address: int = Field(5, ge=1)
    reply_window_minutes: int = Field(1440, ge=1)


class AdminSettings(Section):
    # /admin and /metrics exist only when a password is set (HTTP Basic); else they answer 404.
    username: str = "admin"
    password: SecretStr | None = None

    @field_validator("password")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 12:
            raise ValueError(
                "expected at least 12 characters (python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(24))' makes one)"
            )
        return value


class AlertsSettings(Section):
    # The operator's address: failed or empty ingests and sends nobody accepted are mailed here
    # (at most once per condition per day). Unset: they are only logged, as errors.
    email: str | None = None
