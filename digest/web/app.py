"""The app factory: `create_app(settings, store)` is all `digest serve` and the tests need.

Middleware, outermost first: security headers (on every answer, errors included), the CSRF
cookie, then the body-size limit. Routes are grouped by concern, one module each.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from digest.app.archive import Archive
from digest.app.live_preview import PreviewSource
from digest.app.tokens import Signer
from digest.settings import Settings
from digest.store import Store
from digest.web import (
    admin,
    admin_lists,
    confirm,
    editions,
    feedback,
    health,
    metrics,
    papers,
    preferences,
    subscribe,
    unsubscribe,
)
from digest.web.bodylimit import BodyLimitMiddleware
from digest.web.context import (
    ADMIN_FAILURES_PER_MINUTE,
    EMAIL_ATTEMPTS_PER_HOUR,
    PREVIEWS_PER_MINUTE,
    Clock,
    WebContext,
    system_clock,
)
from digest.web.errors import EXCEPTION_HANDLERS
from digest.web.notices import Notices
from digest.web.pages import STATIC_DIR, Pages, template_environment
from digest.web.ratelimit import SlidingWindowLimiter
from digest.web.security import (
    CsrfCookieMiddleware,
    ForwardedMiddleware,
    SecurityHeadersMiddleware,
)


async def _to_landing(_request: object) -> Response:
    # A reader who reloads the "check your inbox" page lands back on the form.
    return RedirectResponse("/", status_code=303)


def create_app(settings: Settings, store: Store, *, clock: Clock | None = None) -> Starlette:
    """The sign-up, confirm, preferences and unsubscribe site. `clock` (aware UTC datetimes)
    drives timestamps, confirmation windows and rate limits, so tests can move time."""
    now = clock or system_clock
    environment = template_environment(settings)
    signer = Signer(settings.secret_keys)  # fails now, not on the first request, without a key
    context = WebContext(
        settings=settings,
        store=store,
        signer=signer,
        clock=now,
        pages=Pages(settings, environment),
        notices=Notices(settings, environment),
        per_client=SlidingWindowLimiter(
            settings.web.rate_limit_per_minute, 60.0, lambda: now().timestamp()
        ),
        per_email=SlidingWindowLimiter(EMAIL_ATTEMPTS_PER_HOUR, 3600.0, lambda: now().timestamp()),
        per_client_preview=SlidingWindowLimiter(
            PREVIEWS_PER_MINUTE, 60.0, lambda: now().timestamp()
        ),
        preview=PreviewSource(settings, store),
        admin_failures=SlidingWindowLimiter(
            ADMIN_FAILURES_PER_MINUTE, 60.0, lambda: now().timestamp()
        ),
    )
    routes: list[BaseRoute] = [
        *subscribe.ROUTES,
        Route("/subscribe", _to_landing, methods=["GET"]),
        *confirm.ROUTES,
        *preferences.ROUTES,
        *unsubscribe.ROUTES,
        *feedback.ROUTES,
        *health.ROUTES,
        *admin.ROUTES,
        *admin_lists.ROUTES,
        *metrics.ROUTES,
        *papers.ROUTES,
        *editions.ROUTES,
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ForwardedMiddleware, trusted_proxies=settings.web.trusted_proxies),
            Middleware(SecurityHeadersMiddleware),
            Middleware(CsrfCookieMiddleware),
            Middleware(BodyLimitMiddleware, max_body_bytes=settings.web.max_body_bytes),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.web = context
    app.state.archive = Archive(settings, store, signer)
    return app
