"""GET /admin: the list of readers (search, status filter, pages of 50), one reader's detail
(topics, last editions and the mail server's answers), and the unsubscribe and remove actions.

Every page is behind `require_admin`; every action is a POST with the CSRF field, answered by a
redirect (so a reload never repeats it). Addresses never go into URLs: readers are named by
their opaque public id, and search terms travel in the query string only as typed.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.app import admin
from digest.errors import InvalidValue
from digest.web.admin_auth import require_admin
from digest.web.context import WebContext
from digest.web.errors import expired_form
from digest.web.forms import fields_of

log = logging.getLogger("digest.web")

# Messages the list shows after an action (the redirect names one by key, never user text).
DONE = {
    "unsubscribed": "The reader is unsubscribed.",
    "removed": "The reader and their history are erased.",
    "lifted": "The suppression is lifted.",
    "reactivated": "The suppression is lifted and the reader is active again.",
    "not-lifted": "That address was not suppressed.",
}


def _int(value: str | None) -> int | None:
    """The `before` cursor; a value that is no reader number is a 400 naming it."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 19):
        raise InvalidValue(f"before: expected a reader number, got {value[:40]!r}")
    return int(value)


def page(web: WebContext, request: Request, name: str, context: dict[str, Any]) -> Response:
    done = DONE.get(request.query_params.get("done", ""))
    return web.pages.page(request, f"admin/{name}", {"done": done, **context})


async def readers(request: Request) -> Response:
    web = require_admin(request)
    params = request.query_params
    search = params.get("q", "")[:200]
    status = params.get("status") or None
    result = await run_in_threadpool(
        admin.readers,
        web.store,
        search=search,
        status=status,
        before_id=_int(params.get("before")),
    )
    return page(
        web,
        request,
        "readers.html",
        {
            "page": result,
            "search": search,
            "status": status if status in admin.STATUSES else None,
            "statuses": admin.STATUSES,
        },
    )


async def reader(request: Request) -> Response:
    web = require_admin(request)
    detail = await run_in_threadpool(admin.reader, web.store, request.path_params["public_id"])
    if detail is None:
        raise HTTPException(404)
    reasons = await run_in_threadpool(
        admin.reader_why, web.store, web.settings, detail.reader.email, now=web.now()
    )
    return page(web, request, "reader.html", {"detail": detail, "why": reasons})


async def _checked(request: Request) -> tuple[WebContext, dict[str, list[str]] | None]:
    web = require_admin(request)
    fields = fields_of(await request.form())
    return web, (fields if web.csrf_ok(request, fields) else None)


async def unsubscribe(request: Request) -> Response:
    web, fields = await _checked(request)
    if fields is None:
        return expired_form(request)
    public_id = request.path_params["public_id"]
    found = await run_in_threadpool(admin.unsubscribe_reader, web.store, public_id, now=web.now())
    if found is None:
        raise HTTPException(404)
    log.info("admin: unsubscribed subscriber %s", found.id)
    return RedirectResponse(f"/admin/subscribers/{public_id}?done=unsubscribed", status_code=303)


async def remove(request: Request) -> Response:
    web, fields = await _checked(request)
    if fields is None:
        return expired_form(request)
    public_id = request.path_params["public_id"]
    if fields.get("confirm") != ["yes"]:
        # The button sits beside a required checkbox; a request without it changes nothing.
        return RedirectResponse(f"/admin/subscribers/{public_id}", status_code=303)
    erased = await run_in_threadpool(admin.remove, web.store, public_id, now=web.now())
    if erased is None:
        raise HTTPException(404)
    log.info("admin: erased subscriber %s", public_id)
    return RedirectResponse("/admin?done=removed", status_code=303)


ROUTES = [
    Route("/admin", readers, methods=["GET"], name="admin"),
    Route("/admin/subscribers/{public_id}", reader, methods=["GET"], name="admin_reader"),
    Route("/admin/subscribers/{public_id}/unsubscribe", unsubscribe, methods=["POST"]),
    Route("/admin/subscribers/{public_id}/remove", remove, methods=["POST"]),
]
