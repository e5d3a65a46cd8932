"""GET /confirm/{token} shows a button; POST /confirm/{token} activates the subscription.

Mail security scanners and link previewers fetch every URL in a message; if a GET confirmed,
anyone's address could be confirmed without them. So GET only renders the button and changes
nothing; the reader's click (a POST carrying the CSRF field) confirms.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.app.subscription import ConfirmOutcome, confirm, find
from digest.app.tokens import Purpose
from digest.errors import DeliveryError, TokenError
from digest.models import Subscriber
from digest.web.context import WebContext, web_context
from digest.web.errors import expired_form
from digest.web.forms import cadence_phrase, fields_of
from digest.web.notices import Notice

log = logging.getLogger("digest.web")


def _lookup(web: WebContext, public_id: str) -> Subscriber | None:
    return find(web.store, public_id)


def _activate(web: WebContext, public_id: str) -> tuple[ConfirmOutcome, Subscriber | None]:
    return confirm(web.store, public_id, now=web.now())


def _links(web: WebContext, subscriber: Subscriber) -> dict[str, str]:
    return {
        "manage_path": web.path(Purpose.MANAGE, subscriber.public_id),
        "unsubscribe_path": web.path(Purpose.UNSUBSCRIBE, subscriber.public_id),
    }


async def show(request: Request) -> Response:
    web = web_context(request)
    public_id = web.signer.verify(Purpose.CONFIRM, request.path_params["token"])
    subscriber = await run_in_threadpool(_lookup, web, public_id)
    if subscriber is None:
        raise TokenError("this link is not valid")
    context: dict[str, object] = {"subscriber": subscriber, "state": subscriber.status}
    if subscriber.status == "active":
        context.update(_links(web, subscriber))
    return web.pages.page(request, "confirm.html", context)


async def activate(request: Request) -> Response:
    web = web_context(request)
    public_id = web.signer.verify(Purpose.CONFIRM, request.path_params["token"])
    fields = fields_of(await request.form())
    if not web.csrf_ok(request, fields):
        return expired_form(request)
    outcome, subscriber = await run_in_threadpool(_activate, web, public_id)
    if subscriber is None:
        raise TokenError("this link is not valid")
    if outcome is ConfirmOutcome.ACTIVATED:
        await _welcome(web, subscriber)
    if outcome in (ConfirmOutcome.ACTIVATED, ConfirmOutcome.ALREADY_ACTIVE):
        context = {"subscriber": subscriber, "first_time": outcome is ConfirmOutcome.ACTIVATED}
        context.update(_links(web, subscriber))
        context["cadence"] = cadence_phrase(subscriber.profile.cadence)
        return web.pages.page(request, "welcome.html", context)
    # Unsubscribed since the mail was sent, or bounced/suppressed: say so, change nothing.
    state = "unsubscribed" if outcome is ConfirmOutcome.UNSUBSCRIBED else "refused"
    return web.pages.page(request, "confirm.html", {"subscriber": subscriber, "state": state})


async def _welcome(web: WebContext, subscriber: Subscriber) -> None:
    """The welcome mail is a courtesy: the subscription is already active, so a mail server
    hiccup is logged and the reader still gets the welcome page with the same links."""
    profile = subscriber.profile
    context = {
        "manage_url": web.link(Purpose.MANAGE, subscriber.public_id),
        "unsubscribe_url": web.link(Purpose.UNSUBSCRIBE, subscriber.public_id),
        "cadence": cadence_phrase(profile.cadence),
        "send_time": profile.send_time,
        "timezone": profile.timezone,
        "topics": profile.topics,
    }
    try:
        await web.notices.send(
            Notice.WELCOME, subscriber.email, context, now=web.now(), subscriber_id=subscriber.id
        )
    except DeliveryError as exc:
        log.warning("welcome mail for subscriber %s not sent: %s", subscriber.id, exc)


ROUTES = [
    Route("/confirm/{token}", show, methods=["GET"], name="confirm"),
    Route("/confirm/{token}", activate, methods=["POST"], name="confirm_post"),
]
