"""GET /unsubscribe/{token} (one button) and POST /unsubscribe/{token} (done, at once).

The POST is also the RFC 8058 one-click target named in every digest's List-Unsubscribe header:
mail clients send `List-Unsubscribe=One-Click` with no cookies and no CSRF field, and expect a 2xx
without a redirect. The signed UNSUBSCRIBE token is the whole authorisation, so the endpoint asks
for nothing else; it is idempotent, and a GET (link scanners) never changes anything.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.app.subscription import find, unsubscribe
from digest.app.tokens import Purpose
from digest.errors import TokenError
from digest.models import Subscriber
from digest.web.context import WebContext, web_context
from digest.web.forms import fields_of

log = logging.getLogger("digest.web")

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"


def _lookup(web: WebContext, public_id: str) -> Subscriber | None:
    return find(web.store, public_id)


def _leave(web: WebContext, public_id: str) -> Subscriber | None:
    return unsubscribe(web.store, public_id, now=web.now())


async def show(request: Request) -> Response:
    web = web_context(request)
    public_id = web.signer.verify(Purpose.UNSUBSCRIBE, request.path_params["token"])
    subscriber = await run_in_threadpool(_lookup, web, public_id)
    if subscriber is None:
        raise TokenError("this link is not valid")
    return web.pages.page(request, "unsubscribe.html", {"subscriber": subscriber, "done": False})


async def leave(request: Request) -> Response:
    web = web_context(request)
    public_id = web.signer.verify(Purpose.UNSUBSCRIBE, request.path_params["token"])
    fields = fields_of(await request.form())
    one_click = ONE_CLICK_VALUE in fields.get(ONE_CLICK_FIELD, ())
    subscriber = await run_in_threadpool(_leave, web, public_id)
    log.info(
        "unsubscribe%s for subscriber %s",
        " (one-click)" if one_click else "",
        subscriber.id if subscriber else "(gone)",
    )
    # A subscriber deleted since the mail was sent is as unsubscribed as can be: still 200.
    return web.pages.page(
        request,
        "unsubscribe.html",
        {"subscriber": subscriber, "done": True, "one_click": one_click},
    )


ROUTES = [
    Route("/unsubscribe/{token}", show, methods=["GET"], name="unsubscribe"),
    Route("/unsubscribe/{token}", leave, methods=["POST"], name="unsubscribe_post"),
]
