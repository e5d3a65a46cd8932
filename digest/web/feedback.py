"""GET /feedback/{token} shows the rating a digest link asks for; POST records it.

Mail scanners and link previewers open every URL in a message, so a GET changes nothing: the
page holds a form that app.js submits by itself when scripts run, and that shows one button
when they do not. The POST carries the CSRF field, like every other form of the site; the signed
FEEDBACK token (reader, paper, expiring) is the authorisation; the link's `?rating=up|down`
says which way (both links of a paper are in the same mail, so the rating needs no signature).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.app.feedback import FeedbackLink, open_link, rate_by_link
from digest.app.tokens import Purpose
from digest.web.context import WebContext, web_context
from digest.web.errors import expired_form
from digest.web.forms import fields_of

log = logging.getLogger("digest.web")


def _context(web: WebContext, link: FeedbackLink, done: bool) -> dict[str, object]:
    return {
        "paper": link.paper,
        "rating": link.rating,
        "done": done,
        "manage_path": web.path(Purpose.MANAGE, link.subscriber.public_id),
    }


async def show(request: Request) -> Response:
    web = web_context(request)
    token, rating = request.path_params["token"], request.query_params.get("rating")
    link = await run_in_threadpool(open_link, web.store, web.signer, token, rating)
    return web.pages.page(request, "feedback.html", _context(web, link, done=False))


async def record(request: Request) -> Response:
    web = web_context(request)
    token = request.path_params["token"]
    fields = fields_of(await request.form())
    if not web.csrf_ok(request, fields):
        return expired_form(request)
    rating = request.query_params.get("rating")  # the form posts to the link's own URL
    link = await run_in_threadpool(
        lambda: rate_by_link(web.store, web.signer, token, rating, now=web.now())
    )
    log.info("rating %s for subscriber %s", link.rating, link.subscriber.id)
    return web.pages.page(request, "feedback.html", _context(web, link, done=True))


ROUTES = [
    Route("/feedback/{token}", show, methods=["GET"], name="feedback"),
    Route("/feedback/{token}", record, methods=["POST"], name="feedback_post"),
]
