"""GET /admin/editions (delivery counts per edition date), /admin/suppressions (with the lift
action) and /admin/ingest (each source's runs and their errors)."""

from __future__ import annotations

import logging
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.app import admin
from digest.errors import map_value_errors
from digest.web.admin import page
from digest.web.admin_auth import require_admin
from digest.web.errors import expired_form
from digest.web.forms import fields_of

log = logging.getLogger("digest.web")


def _date(value: str | None) -> date | None:
    """The `before` cursor; a value that is no date is a 400 naming it, not a silent page 1."""
    if not value:
        return None
    with map_value_errors(where="before", value=value, expected="a date as YYYY-MM-DD"):
        return date.fromisoformat(value)


async def editions(request: Request) -> Response:
    web = require_admin(request)
    before = _date(request.query_params.get("before"))
    limit = 30
    lines = await run_in_threadpool(admin.editions, web.store, before=before, limit=limit + 1)
    more = len(lines) > limit
    lines = lines[:limit]
    return page(
        web,
        request,
        "editions.html",
        {
            "lines": lines,
            "statuses": admin.DELIVERY_STATUSES,
            "next_before": lines[-1].edition.isoformat() if more and lines else None,
        },
    )


async def suppressions(request: Request) -> Response:
    web = require_admin(request)
    params = request.query_params
    search = params.get("q", "")[:200]
    after = params.get("after") or None
    lines, next_after = await run_in_threadpool(
        admin.suppressions, web.store, after=after, search=search
    )
    return page(
        web,
        request,
        "suppressions.html",
        {"lines": lines, "search": search, "next_after": next_after},
    )


async def lift(request: Request) -> Response:
    web = require_admin(request)
    fields = fields_of(await request.form())
    if not web.csrf_ok(request, fields):
        return expired_form(request)
    address = (fields.get("email") or [""])[0].strip()
    lifted = (
        await run_in_threadpool(admin.lift, web.store, address, now=web.now()) if address else None
    )
    if lifted is not None:
        log.info("admin: lifted a suppression")
    done = "not-lifted"
    if lifted is not None:
        done = "reactivated" if lifted.reactivated else "lifted"
    return RedirectResponse(f"/admin/suppressions?done={done}", status_code=303)


async def ingest(request: Request) -> Response:
    web = require_admin(request)
    source = request.query_params.get("source") or None
    overview = await run_in_threadpool(admin.ingest_history, web.store, source=source)
    return page(web, request, "ingest.html", {"overview": overview, "source": source})


ROUTES = [
    Route("/admin/ingest", ingest, methods=["GET"], name="admin_ingest"),
    Route("/admin/editions", editions, methods=["GET"], name="admin_editions"),
    Route("/admin/suppressions", suppressions, methods=["GET"], name="admin_suppressions"),
    Route("/admin/suppressions/lift", lift, methods=["POST"]),
]
