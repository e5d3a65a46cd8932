"""GET /healthz: JSON for load balancers and operators; 503 when the database does not answer."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import digest
from digest.errors import StoreError
from digest.web.context import web_context

log = logging.getLogger("digest.web")


async def healthz(request: Request) -> Response:
    web = web_context(request)
    try:
        await run_in_threadpool(web.store.ping)
    except StoreError as exc:
        log.error("health check: database unavailable: %s", exc)
        return JSONResponse(
            {"status": "error", "database": "unavailable", "version": digest.__version__},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "database": "ok", "version": digest.__version__})


ROUTES = [Route("/healthz", healthz, methods=["GET"], name="healthz")]
