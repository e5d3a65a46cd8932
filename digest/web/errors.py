"""Exceptions become pages only here, at the web edge (as datasette's `handle_exception` does):
a status-specific message on one template, and a generic fallback that reveals nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from digest.errors import DeliveryError, DigestError, StoreBusyError, TokenError
from digest.web.accesslog import redact_path
from digest.web.context import web_context
from digest.web.ratelimit import retry_after_header

log = logging.getLogger("digest.web")

# Seconds a reader is asked to wait when the mail server is unreachable.
RETRY_SHORTLY_SECONDS = 60

TITLES: dict[int, tuple[str, str]] = {
    400: ("This request cannot be used", "Something in the request was not valid."),
    401: ("Sign in required", "This page is for the list's operator."),
    403: ("This form has expired", "Reload the page and submit the form again."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    410: ("This link has expired", "Links in our mails only work for a limited time."),
    413: ("Too much data", "The form you sent is larger than this site accepts."),
    429: ("Too many requests", "Please wait a minute before trying again."),
    503: ("Please try again shortly", "We could not reach our mail server just now."),
    500: ("Something went wrong", "An unexpected error occurred; it has been logged."),
}


def error_page(
    request: Request,
    status: int,
    message: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    next_step: Mapping[str, str] | None = None,
) -> Response:
    """The friendly page for `status`; falls back to plain text if page rendering itself fails
    (a broken override template must not hide the original error)."""
    title, default_message = TITLES.get(status, TITLES[400 if status < 500 else 500])
    context = {
        "status": status,
        "title": title,
        "message": message or default_message,
        "next_step": next_step,
    }
    try:
        return web_context(request).pages.page(
            request, "error.html", context, status=status, headers=headers
        )
    except Exception:
        log.exception("rendering the error page failed")
        return PlainTextResponse(f"{title}. {context['message']}", status, headers=headers)


def too_many(request: Request, seconds: float) -> Response:
    return error_page(
        request,
        429,
        "You have sent this form too often. Please wait a little and try again.",
        headers={"Retry-After": retry_after_header(seconds)},
    )


def expired_form(request: Request) -> Response:
    """A failed CSRF check: most often a tab left open across a restart or with cookies off."""
    return error_page(
        request,
        403,
        "This form has expired or your browser did not send its cookie. "
        "Reload the page and submit the form again.",
        next_step={"href": str(request.url.path), "label": "Reload the page"},
    )


async def handle_token_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TokenError)
    if exc.expired:
        return error_page(
            request,
            410,
            "This link has expired. Links in our mails only work for a limited time; "
            "request a new one from the sign-up page.",
            next_step={"href": "/", "label": "Go to the sign-up page"},
        )
    return error_page(
        request,
        400,
        "This link is not valid. It may have been cut short or altered; "
        "open it again from the mail, or copy the whole address.",
        next_step={"href": "/", "label": "Go to the sign-up page"},
    )


async def handle_delivery_error(request: Request, exc: Exception) -> Response:
    log.warning("mail could not be sent: %s", exc)
    return error_page(
        request,
        503,
        "We could not send the mail just now. Nothing was lost: please try again in a minute.",
        headers={"Retry-After": str(RETRY_SHORTLY_SECONDS)},
    )


async def handle_store_busy(request: Request, exc: Exception) -> Response:
    """Another process held the database's write lock past `[database] busy_timeout`: the
    request changed nothing and is worth repeating, which is what 503 + Retry-After say."""
    log.warning("request refused: %s", exc)
    return error_page(
        request,
        503,
        "The site is busy just now. Nothing was changed: please try again in a minute.",
        headers={"Retry-After": str(RETRY_SHORTLY_SECONDS)},
    )


async def handle_digest_error(request: Request, exc: Exception) -> Response:
    return error_page(request, 400, str(exc))


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_page(request, exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    path = redact_path(request.url.path)
    log.error("unexpected error on %s %s", request.method, path, exc_info=exc)
    try:
        return error_page(request, 500)
    except Exception:
        return HTMLResponse("Something went wrong.", status_code=500)


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Any]] = {
    TokenError: handle_token_error,
    DeliveryError: handle_delivery_error,
    StoreBusyError: handle_store_busy,
    DigestError: handle_digest_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
