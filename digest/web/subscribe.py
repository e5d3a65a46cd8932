"""GET / (the sign-up form) and POST /subscribe (the start of double opt-in).

POST /subscribe answers the same neutral "check your inbox" page whether the address is new,
pending, confirmed, unsubscribed, suppressed or simply does not exist, so the form cannot be used
to learn who reads the list. Only a malformed address (which no mailbox can have) is answered
with an error beside the field.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.app.subscription import SignupDecision, Step, notice_not_sent, request_subscription
from digest.app.tokens import Purpose
from digest.errors import PermanentDeliveryError
from digest.models import Profile
from digest.store.subscribers import email_key
from digest.web.context import WebContext, web_context
from digest.web.errors import expired_form, too_many
from digest.web.forms import (
    CADENCE_CHOICES,
    ProfileForm,
    fields_of,
    read_profile_form,
    timezone_choices,
)
from digest.web.notices import Notice
from digest.web.security import client_address

log = logging.getLogger("digest.web")

HONEYPOT_FIELD = "website"


def form_context(web: WebContext, form: ProfileForm) -> dict[str, Any]:
    return {
        "form": form,
        "catalog": web.settings.catalog,
        "cadences": CADENCE_CHOICES,
        "timezones": timezone_choices(),
    }


async def landing(request: Request) -> Response:
    web = web_context(request)
    return web.pages.page(request, "subscribe.html", form_context(web, ProfileForm()))


async def subscribe(request: Request) -> Response:
    web = web_context(request)
    fields = fields_of(await request.form())
    if not web.csrf_ok(request, fields):
        return expired_form(request)
    wait = web.per_client.hit(client_address(request))
    if wait is not None:
        return too_many(request, wait)
    if any(value.strip() for value in fields.get(HONEYPOT_FIELD, ())):
        log.info("sign-up with the honeypot field filled from %s ignored", client_address(request))
        return check_inbox(request)

    form = read_profile_form(fields, web.settings.catalog, require_topic=True)
    if not form.valid or form.profile is None:
        return web.pages.page(request, "subscribe.html", form_context(web, form), status=422)
    wait = web.per_email.hit(email_key(form.profile.email))
    if wait is not None:
        return too_many(request, wait)

    now = web.now()
    decision = await run_in_threadpool(_record, web, form.profile, now)
    if decision.step is not Step.NOTHING and decision.subscriber is not None:
        await _send_notice(web, decision, now)
    return check_inbox(request)


def _record(web: WebContext, profile: Profile, now: datetime) -> SignupDecision:
    window = timedelta(minutes=web.settings.web.confirmation_window_minutes)
    return request_subscription(web.store, profile, now=now, window=window)


async def _send_notice(web: WebContext, decision: SignupDecision, now: datetime) -> None:
    """Send the notice whose window `_record` claimed. If the mail server cannot take it now,
    the window is given back and the error propagates (the reader sees "try again shortly"
    and the pending record stays); a permanent refusal is logged and the reader still sees
    the neutral answer."""
    subscriber = decision.subscriber
    assert subscriber is not None
    if decision.step is Step.SEND_CONFIRMATION:
        notice = Notice.CONFIRM
        context = {"confirm_url": web.link(Purpose.CONFIRM, subscriber.public_id)}
    else:
        notice = Notice.ALREADY_SUBSCRIBED
        context = {"manage_url": web.link(Purpose.MANAGE, subscriber.public_id)}
    try:
        await web.notices.send(
            notice, subscriber.email, context, now=now, subscriber_id=subscriber.id
        )
    except PermanentDeliveryError as exc:
        log.warning(
            "the mail server refused the %s notice for subscriber %s: %s",
            notice.value,
            subscriber.id,
            exc,
        )
    except Exception:
        await run_in_threadpool(_reopen_window, web, decision, now)
        raise


def _reopen_window(web: WebContext, decision: SignupDecision, claimed_at: datetime) -> None:
    notice_not_sent(web.store, decision, claimed_at=claimed_at)


def check_inbox(request: Request) -> Response:
    return web_context(request).pages.page(request, "check-inbox.html")


ROUTES = [
    Route("/", landing, methods=["GET"], name="landing"),
    Route("/subscribe", subscribe, methods=["POST"], name="subscribe"),
]
