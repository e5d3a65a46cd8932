"""GET /papers/{id}: the site's page for one paper, where a digest links papers without a URL.

Read-only and public (a paper's metadata is public), so it needs no token; an unknown id is the
site's ordinary 404 page.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.app.archive import find_paper
from digest.web.context import web_context


async def show(request: Request) -> Response:
    web = web_context(request)
    page = await run_in_threadpool(find_paper, web.store, request.path_params["paper_id"])
    if page is None:
        raise HTTPException(404)
    return web.pages.page(request, "paper.html", {"paper": page})


ROUTES = [Route("/papers/{paper_id:path}", show, methods=["GET"], name="paper")]
