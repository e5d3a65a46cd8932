"""GET/POST /preferences/{token}: topics, cadence, send time, time zone, size, trending section.

The MANAGE token in the URL is the reader's key (no account, no password). The page works
without JavaScript (save, then see the preview of the saved settings); with it, app.js asks
GET /preferences/{token}/preview for an HTML fragment as the reader types. Queries that do not
parse are reported beside their field with the column where parsing stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.app.feedback import reader_ratings, undo_rating
from digest.app.live_preview import EMAIL_PREVIEW_CSP
from digest.app.subscription import find, save_preferences
from digest.app.tokens import Purpose
from digest.errors import DigestError, TokenError
from digest.models import Edition, Profile, Subscriber
from digest.render import DigestLinks
from digest.web.context import WebContext, web_context
from digest.web.errors import expired_form, too_many
from digest.web.forms import (
    CADENCE_CHOICES,
    ProfileForm,
    fields_of,
    read_profile_form,
    timezone_choices,
)
from digest.web.security import client_address

log = logging.getLogger("digest.web")


def _lookup(web: WebContext, public_id: str) -> Subscriber | None:
    return find(web.store, public_id)


def _save(web: WebContext, public_id: str, profile: Profile) -> bool:
    return save_preferences(web.store, public_id, profile, now=web.now())


async def _subscriber(request: Request) -> tuple[WebContext, str, Subscriber]:
    web = web_context(request)
    token = request.path_params["token"]
    public_id = web.signer.verify(Purpose.MANAGE, token)
    subscriber = await run_in_threadpool(_lookup, web, public_id)
    if subscriber is None:
        raise TokenError("this link is not valid")
    return web, token, subscriber


@dataclass(frozen=True, slots=True)
class _Preview:
    edition: Edition | None
    problem: str | None
    understood: list[tuple[str, list[str]]]


def _preview(web: WebContext, profile: Profile) -> _Preview:
    """The preview edition and how each topic is read, or a message saying why there is none
    (never an error page: the preview is a courtesy beside the form)."""
    now = web.now()
    try:
        return _Preview(
            web.preview.edition(profile, now=now), None, web.preview.understood(profile, now=now)
        )
    except DigestError as exc:
        log.warning("preview failed: %s", exc)
        problem = "The preview is not available right now; your settings can still be saved."
        return _Preview(None, problem, [])


async def _page(
    request: Request,
    web: WebContext,
    token: str,
    subscriber: Subscriber,
    form: ProfileForm,
    *,
    status: int = 200,
    saved: bool = False,
) -> Response:
    profile = form.profile if form.valid and form.profile is not None else subscriber.profile
    shown = await run_in_threadpool(_preview, web, profile)
    context: dict[str, Any] = {
        "form": form,
        "subscriber": subscriber,
        "token": token,
        "saved": saved,
        "catalog": web.settings.catalog,
        "cadences": CADENCE_CHOICES,
        "timezones": timezone_choices(),
        "edition": shown.edition,
        "preview_problem": shown.problem,
        "understood": shown.understood,
        "unsubscribe_path": web.path(Purpose.UNSUBSCRIBE, subscriber.public_id),
        "ratings": await run_in_threadpool(reader_ratings, web.store, subscriber.public_id),
    }
    return web.pages.page(request, "preferences.html", context, status=status)


async def show(request: Request) -> Response:
    web, token, subscriber = await _subscriber(request)
    form = ProfileForm.from_profile(subscriber.profile, web.settings.catalog)
    return await _page(
        request, web, token, subscriber, form, saved=request.query_params.get("saved") == "1"
    )


async def save(request: Request) -> Response:
    web, token, subscriber = await _subscriber(request)
    fields = fields_of(await request.form())
    if not web.csrf_ok(request, fields):
        return expired_form(request)
    form = read_profile_form(
        fields, web.settings.catalog, email=subscriber.email, require_topic=False
    )
    if not form.valid or form.profile is None:
        return await _page(request, web, token, subscriber, form, status=422)
    if not await run_in_threadpool(_save, web, subscriber.public_id, form.profile):
        raise TokenError("this link is not valid")
    # Post/Redirect/Get: reloading the page after saving must not resubmit the form.
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


async def preview(request: Request) -> Response:
    """The preview fragment for the (unsaved) settings in the query string. Changes nothing."""
    web, _token, subscriber = await _subscriber(request)
    wait = web.per_client_preview.hit(client_address(request))
    if wait is not None:
        return too_many(request, wait)
    form = read_profile_form(
        fields_of(request.query_params),
        web.settings.catalog,
        email=subscriber.email,
        require_topic=False,
    )
    shown = _Preview(None, None, [])
    if form.valid and form.profile is not None:
        shown = await run_in_threadpool(_preview, web, form.profile)
    context = {
        "form": form,
        "edition": shown.edition,
        "preview_problem": shown.problem,
        "understood": shown.understood,
    }
    body = web.pages.render(request, "_preview.html", context)
    return HTMLResponse(body)


async def email_preview(request: Request) -> Response:
    """The whole digest mail, for the settings in the query string when there are any (the
    page's script keeps the link in step with the form) or else the saved ones."""
    web, _token, subscriber = await _subscriber(request)
    wait = web.per_client_preview.hit(client_address(request))
    if wait is not None:
        return too_many(request, wait)
    profile = subscriber.profile
    if request.query_params:
        form = read_profile_form(
            fields_of(request.query_params),
            web.settings.catalog,
            email=subscriber.email,
            require_topic=False,
        )
        if form.valid and form.profile is not None:
            profile = form.profile
    links = DigestLinks(
        manage=web.link(Purpose.MANAGE, subscriber.public_id),
        unsubscribe=web.link(Purpose.UNSUBSCRIBE, subscriber.public_id),
    )
    html = await run_in_threadpool(lambda: web.preview.email_html(profile, links, now=web.now()))
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": EMAIL_PREVIEW_CSP, "X-Frame-Options": "SAMEORIGIN"},
    )


async def undo(request: Request) -> Response:
    """Clears one of the reader's ratings (the Undo button of "Your ratings")."""
    web, token, subscriber = await _subscriber(request)
    fields = fields_of(await request.form())
    if not web.csrf_ok(request, fields):
        return expired_form(request)
    paper_id = (fields.get("paper") or [""])[0]
    await run_in_threadpool(
        lambda: undo_rating(web.store, subscriber.public_id, paper_id, now=web.now())
    )
    return RedirectResponse(f"/preferences/{token}?saved=1#ratings-heading", status_code=303)


ROUTES = [
    Route("/preferences/{token}", show, methods=["GET"], name="preferences"),
    Route("/preferences/{token}", save, methods=["POST"], name="preferences_post"),
    Route("/preferences/{token}/preview", preview, methods=["GET"], name="preview"),
    Route("/preferences/{token}/email", email_preview, methods=["GET"], name="email_preview"),
    Route("/preferences/{token}/ratings", undo, methods=["POST"], name="ratings_undo"),
]
