"""Browser-facing defences: CSRF tokens for the forms and security headers on every response.

CSRF uses the signed double-submit pattern: a random cookie (HttpOnly, SameSite=Strict) and a
hidden form field holding an HMAC of that cookie under the site secret. A cross-site page can
neither read the cookie nor compute the field, and a cookie planted from a sibling subdomain is
useless without the secret. An `Origin` header naming another site is refused outright.

The signed capability tokens in the URLs (confirm / manage / unsubscribe) are the real
authorisation; CSRF is a second lock on the browser forms. The RFC 8058 one-click unsubscribe
POST comes from mail clients without cookies, so that one endpoint relies on its token alone.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "digest_csrf"
CSRF_FIELD = "csrf_token"

# No inline script or style anywhere: pages load /static/app.js and /static/app.css only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Token-bearing paths must never leak to another site through the Referer header: other
    # sites get at most our origin. (Not "no-referrer": with it, browsers send `Origin: null`
    # on our own form posts, which would blind the same-origin check below.)
    "Referrer-Policy": "strict-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response; a response may set its own stricter CSP
    (the sandboxed e-mail preview does). Pages other than static files are not cached: most of
    them carry a capability token in their URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if not static and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CsrfCookieMiddleware:
    """Makes sure every browser holds a CSRF cookie: issues one on the first response and puts
    the value in `request.state.csrf_cookie` so the page can sign it into its forms."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path == "/healthz" or path.startswith("/static/"):
            # Probes and assets never carry forms; keep their responses cookie-free.
            scope.setdefault("state", {})["csrf_cookie"] = ""
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        value = connection.cookies.get(CSRF_COOKIE, "")
        fresh = not _well_formed(value)
        if fresh:
            value = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_cookie"] = value
        secure = connection.url.scheme == "https"

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = f"{CSRF_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict"
                if secure:
                    cookie += "; Secure"
                MutableHeaders(scope=message).append("Set-Cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _well_formed(value: str) -> bool:
    return 32 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


def _mac(key: str, cookie: str) -> str:
    return hmac.new(key.encode(), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_field_value(request: Request, secret_keys: list[str]) -> str:
    """The hidden-field value for this browser's forms (signed with the newest key)."""
    return _mac(secret_keys[0], request.state.csrf_cookie)


def csrf_valid(
    request: Request, form: Mapping[str, Sequence[str]], secret_keys: list[str], base_url: str
) -> bool:
    """True when the form carries the signature of the cookie the browser sent, under any
    configured key (so rotation does not break open tabs), and any Origin header is ours."""
    if not _same_origin(request, base_url):
        return False
    cookie = request.cookies.get(CSRF_COOKIE, "")
    values = form.get(CSRF_FIELD) or ()
    submitted = values[0] if len(values) == 1 else ""
    if not _well_formed(cookie) or not submitted:
        return False
    return any(hmac.compare_digest(_mac(key, cookie), submitted) for key in secret_keys)


def _same_origin(request: Request, base_url: str) -> bool:
    """A cross-site form post names the other site in Origin; a missing or opaque ("null")
    Origin proves nothing either way and leaves the decision to the token."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    netloc = urlsplit(origin).netloc
    allowed = {request.headers.get("host", ""), urlsplit(base_url).netloc}
    return bool(netloc) and netloc in allowed


def client_address(request: Request) -> str:
    """The peer address (ForwardedMiddleware resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client is not None else "unknown"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip())
    except ValueError:
        return False
    return any(address in network for network in networks)


class ForwardedMiddleware:
    """Believes `X-Forwarded-For` and `X-Forwarded-Proto` only from `[web] trusted_proxies`.

    uvicorn's own proxy handling trusts 127.0.0.1 by default, so any local client could rotate
    X-Forwarded-For past the per-client sign-up limit; the server runs with it off and this
    decides instead. The client is the right-most forwarded address that is not itself a
    trusted proxy (the left-most entries are whatever the client chose to send)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if (
            scope["type"] in ("http", "websocket")
            and self.networks
            and client is not None
            and _trusted(client[0], self.networks)
        ):
            scope = dict(scope)
            forwarded: list[str] = []
            proto = ""
            for name, value in scope["headers"]:
                if name.lower() == b"x-forwarded-for":
                    forwarded.extend(value.decode("latin-1").split(","))
                elif name.lower() == b"x-forwarded-proto":
                    proto = value.decode("latin-1").split(",")[0].strip().lower()
            hops = [hop.strip() for hop in forwarded if hop.strip()]
            for hop in reversed(hops):
                if not _trusted(hop, self.networks):
                    scope["client"] = (hop, 0)
                    break
            else:
                if hops:
                    scope["client"] = (hops[0], 0)
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
        await self.app(scope, receive, send)
