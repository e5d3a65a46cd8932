"""Who may see /admin and /metrics: nobody unless `[admin] password` is set (then the pages do
not exist: 404, nothing to probe), else whoever sends that user name and password by HTTP Basic.

Basic auth keeps the operator's pages usable from a browser, `curl -u` and a Prometheus scrape
config alike. It is only as private as the connection: put the site behind HTTPS (see README,
"Going live"). Comparisons are constant-time; the password lives only in settings.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request

from digest.settings_sections import AdminSettings
from digest.web.context import WebContext, web_context
from digest.web.ratelimit import retry_after_header
from digest.web.security import client_address

log = logging.getLogger("digest.web")

REALM = 'Basic realm="papers-digest admin", charset="UTF-8"'


def credentials(header: str) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic …` header, None when malformed."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def allowed(settings: AdminSettings, header: str) -> bool:
    if settings.password is None:
        return False
    given = credentials(header)
    if given is None:
        return False
    user_ok = hmac.compare_digest(given[0].encode(), settings.username.encode())
    password = settings.password.get_secret_value().encode()
    password_ok = hmac.compare_digest(given[1].encode(), password)
    return user_ok and password_ok


def require_admin(request: Request) -> WebContext:
    """The web context for an authorised operator; else 404 (admin off) or 401 (asks for the
    password). Every admin and metrics handler starts with this."""
    web = web_context(request)
    settings = web.settings.admin
    if settings.password is None:
        raise HTTPException(404)
    client = client_address(request)
    wait = web.admin_failures.blocked(client)
    if wait is not None:
        # Too many wrong passwords: even the right one waits, or guessing would go on.
        raise HTTPException(429, headers={"Retry-After": retry_after_header(wait)})
    if not allowed(settings, request.headers.get("authorization", "")):
        if "authorization" in request.headers:
            log.warning("admin: wrong credentials from %s", client)
            web.admin_failures.hit(client)
        raise HTTPException(401, headers={"WWW-Authenticate": REALM})
    return web
