"""GET /editions/{token}: "view in browser", a reader's digest as it was mailed.

The signed EDITION token names one reader and one edition; the page is read-only. A token for
an edition that was never sent is the ordinary 404 page.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.app.archive import Archive
from digest.web.context import web_context

# The mail's own HTML: inline styles, no scripts, nothing loaded from elsewhere but images.
DIGEST_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)


async def show(request: Request) -> Response:
    web = web_context(request)
    archive = request.app.state.archive
    assert isinstance(archive, Archive)
    html = await run_in_threadpool(archive.page, request.path_params["token"], now=web.now())
    if html is None:
        raise HTTPException(404)
    return HTMLResponse(html, headers={"Content-Security-Policy": DIGEST_PAGE_CSP})


ROUTES = [Route("/editions/{token}", show, methods=["GET"], name="edition")]
