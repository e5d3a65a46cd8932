"""The double opt-in workflow as explicit steps (after Mailman's subscription workflow):
request → confirmation mail → confirm → welcome; and unsubscribe. The shells (web form, mail
commands) decide nothing themselves: they call these functions and send the notice named.

Rules that protect readers and the list's reputation:
- A sign-up for a confirmed address never downgrades it to pending; the owner gets an "already
  subscribed, manage it here" notice instead (nobody can reset someone else's subscription).
- An unsubscribed address that signs up again starts over as pending and must confirm again.
- Suppressed (bounced, complained) addresses get nothing.
- At most one notice per address per confirmation window, whatever is submitted: the window is
  claimed before the mail is sent and given back if the mail server does not take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from digest.models import Profile, Subscriber
from digest.store import Store, signups, subscribers
from digest.store.subscribers import is_suppressed


class Step(StrEnum):
    SEND_CONFIRMATION = "send-confirmation"
    SEND_ALREADY_SUBSCRIBED = "send-already-subscribed"
    NOTHING = "nothing"


@dataclass(frozen=True, slots=True)
class SignupDecision:
    step: Step
    subscriber: Subscriber | None


def request_subscription(
    store: Store, profile: Profile, *, now: datetime, window: timedelta
) -> SignupDecision:
    """Record a sign-up and say which notice (if any) to send. The caller answers the same
    neutral "check your inbox" whatever this returns.

    The window is claimed first, before anything is read: of several simultaneous sign-ups for
    one address exactly one sends a mail and changes the row; the others, and any repeat within
    the window, change nothing. Two sign-ups creating the same new address race on its unique
    key; the loser runs again and finds the winner's row."""
    try:
        return _record(store, profile, now=now, window=window)
    except signups.AddressRaced:
        return _record(store, profile, now=now, window=window)


def _record(store: Store, profile: Profile, *, now: datetime, window: timedelta) -> SignupDecision:
    with store.session() as session:
        claimed = signups.claim_notice(session, profile.email, now=now, window=window)
        if is_suppressed(session, profile.email):
            return SignupDecision(Step.NOTHING, None)
        known = subscribers.get_by_email(session, profile.email)
        if known is None:
            return SignupDecision(
                Step.SEND_CONFIRMATION, signups.create_pending(session, profile, now=now)
            )
        if not claimed:
            return SignupDecision(Step.NOTHING, known)
        if known.status == "active":
            return SignupDecision(Step.SEND_ALREADY_SUBSCRIBED, known)
        restarted = signups.restart_pending(session, known.id, profile, now=now)
        return SignupDecision(Step.SEND_CONFIRMATION, restarted)


def notice_not_sent(store: Store, decision: SignupDecision, *, claimed_at: datetime) -> None:
    """The mail server did not take the notice: reopen the window so the reader can retry at
    once (unless a newer request has claimed it since)."""
    if decision.subscriber is None:
        return
    with store.session() as session:
        signups.reopen_notice(session, decision.subscriber.id, claimed_at=claimed_at)


class ConfirmOutcome(StrEnum):
    ACTIVATED = "activated"
    ALREADY_ACTIVE = "already-active"
    UNSUBSCRIBED = "unsubscribed"
    REFUSED = "refused"  # bounced or suppressed
    MISSING = "missing"


def find(store: Store, public_id: str) -> Subscriber | None:
    with store.session() as session:
        return subscribers.get_by_public_id(session, public_id)


def find_by_email(store: Store, address: str) -> Subscriber | None:
    with store.session() as session:
        return subscribers.get_by_email(session, address)


def confirm(
    store: Store, public_id: str, *, now: datetime
) -> tuple[ConfirmOutcome, Subscriber | None]:
    """Activate a pending subscriber. An address that unsubscribed after the mail was sent stays
    unsubscribed: an old confirmation link must not silently undo a later unsubscribe. A double
    click (two POSTs at once) activates once and only one of them is told ACTIVATED (one
    welcome mail)."""
    with store.session() as session:
        activated = signups.activate(session, public_id, now=now)
        subscriber = subscribers.get_by_public_id(session, public_id)
    if subscriber is None:
        return ConfirmOutcome.MISSING, None
    if activated:
        return ConfirmOutcome.ACTIVATED, subscriber
    if subscriber.status == "active":
        return ConfirmOutcome.ALREADY_ACTIVE, subscriber
    if subscriber.status == "unsubscribed":
        return ConfirmOutcome.UNSUBSCRIBED, subscriber
    return ConfirmOutcome.REFUSED, subscriber


def unsubscribe(store: Store, public_id: str, *, now: datetime) -> Subscriber | None:
    """Idempotent: a second request changes nothing (the first unsubscribe time is kept), and a
    bounced address stays bounced. None when the subscriber no longer exists."""
    with store.session() as session:
        signups.end_subscription(session, public_id, now=now)
        return subscribers.get_by_public_id(session, public_id)


def save_preferences(store: Store, public_id: str, profile: Profile, *, now: datetime) -> bool:
    """Replace the reader's settings from the preferences form; False when they are gone."""
    with store.session() as session:
        return signups.replace_settings(session, public_id, profile, now=now)
