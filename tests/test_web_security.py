"""Headers, CSRF cookie, body limits, error pages, the health check and the rate limiter."""

from __future__ import annotations

import re
import socket
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import create_engine
from starlette.responses import Response
from starlette.routing import Route

from digest.app.tokens import Purpose
from digest.store import Store
from digest.web import create_app
from digest.web.ratelimit import SlidingWindowLimiter, retry_after_header
from tests.websupport import Site, Sites, serve, subscribe_form


def _pages(site: Site) -> dict[str, str]:
    """One URL of every page kind."""
    public_id = site.add("ada@example.org", status="pending")
    return {
        "landing": "/",
        "confirm": f"/confirm/{site.token(Purpose.CONFIRM, public_id)}",
        "preferences": f"/preferences/{site.token(Purpose.MANAGE, public_id)}",
        "unsubscribe": f"/unsubscribe/{site.token(Purpose.UNSUBSCRIBE, public_id)}",
        "bad token": "/confirm/forged",
        "not found": "/nowhere",
    }


def test_every_page_carries_the_security_headers(site: Site) -> None:
    client = site.client()
    for name, path in _pages(site).items():
        response = client.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp, name
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, name
        assert "default-src 'none'" in csp and "form-action 'self'" in csp, name
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["referrer-policy"] == "strict-origin", name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["cache-control"] == "no-store", name


class _Inline(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, handlers, style blocks/attrs."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> block")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{name} handler on <{tag}>" for name in names if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")


def test_pages_have_no_inline_script_or_style_for_the_csp_to_block(site: Site) -> None:
    client = site.client()
    for name, path in _pages(site).items():
        parser = _Inline()
        parser.feed(client.get(path).text)
        assert parser.problems == [], name


def test_static_assets_are_served_with_their_types(site: Site) -> None:
    client = site.client()
    js = client.get("/static/app.js")
    css = client.get("/static/app.css")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert js.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/../app.py").status_code == 404


def test_the_csrf_cookie_is_http_only_and_same_site_strict(sites: Sites) -> None:
    site = sites(web={"trusted_proxies": ["127.0.0.1"]})
    cookie = site.client().get("/").headers["set-cookie"]
    assert cookie.startswith("digest_csrf=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in tests; set when the request is https
    # Behind a TLS-terminating proxy (trusted X-Forwarded-Proto), the cookie becomes Secure.
    https = site.client(headers={"X-Forwarded-Proto": "https"}).get("/").headers["set-cookie"]
    assert "Secure" in https


def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(site: Site) -> None:
    # No [web] trusted_proxies: even loopback's X-Forwarded-Proto is not believed.
    cookie = site.client(headers={"X-Forwarded-Proto": "https"}).get("/").headers["set-cookie"]
    assert "Secure" not in cookie


def _sign_up_statuses(site: Site, attempts: int) -> list[int]:
    """Sign-ups from one local client that claims a new X-Forwarded-For address each time."""
    statuses = []
    for n in range(attempts):
        client = site.client(headers={"X-Forwarded-For": f"203.0.113.{n + 1}"})
        form = subscribe_form(client, email=f"reader{n}@example.org")
        statuses.append(client.post("/subscribe", data=form).status_code)
    return statuses


def test_rotating_x_forwarded_for_does_not_escape_the_sign_up_limit(sites: Sites) -> None:
    site = sites(web={"rate_limit_per_minute": 3})
    assert _sign_up_statuses(site, 5) == [200, 200, 200, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(sites: Sites) -> None:
    site = sites(web={"rate_limit_per_minute": 3, "trusted_proxies": ["127.0.0.0/8"]})
    assert _sign_up_statuses(site, 5) == [200] * 5


def test_user_input_is_escaped_when_the_form_comes_back(site: Site) -> None:
    client = site.client()
    response = client.post(
        "/subscribe",
        data=subscribe_form(client, email='"><script>alert(1)</script>', topic_query="<b>x</b> ("),
    )
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
    assert "<b>x</b>" not in response.text
    assert "&lt;script&gt;" in response.text


# Limits ----------------------------------------------------------------------------------------


def test_an_oversized_body_is_refused_with_413(sites: Sites) -> None:
    site = sites(web={"max_body_bytes": 2048})
    client = site.client()
    form = subscribe_form(client, topic_query="x" * 5000)
    response = client.post("/subscribe", data=form)
    assert response.status_code == 413
    assert "Too much data" in response.text
    assert response.headers["content-security-policy"]
    assert site.row("ada@example.org") is None


def test_a_chunked_body_is_cut_off_at_the_limit(sites: Sites) -> None:
    site = sites(web={"max_body_bytes": 2048})

    def endless() -> bytes:
        yield b"email=ada%40example.org&topic_query="
        for _ in range(64):
            yield b"x" * 1024

    http = site.client()
    if True:
        response = http.post(
            "/subscribe",
            content=endless(),  # type: ignore[arg-type]
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413
    assert site.row("ada@example.org") is None


def test_a_declared_oversized_body_is_refused_before_it_is_read(sites: Sites) -> None:
    site = sites(web={"max_body_bytes": 2048})
    base = site.base_url
    if True:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /subscribe HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 100000000\r\n\r\nemail="
            )
            reply = sock.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")


def test_the_limiter_slides_instead_of_resetting_on_a_boundary() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(3, 60.0, lambda: now[0])
    for t in (0.0, 30.0, 59.0):
        now[0] = t
        assert limiter.hit("a") is None
    now[0] = 59.5
    assert limiter.hit("a") == pytest.approx(0.5)  # the hit at 0 frees up at 60
    assert limiter.hit("b") is None  # keys are independent
    now[0] = 60.0
    assert limiter.hit("a") is None
    now[0] = 61.0
    assert limiter.hit("a") is not None  # 30, 59, 60 are still inside the window
    assert retry_after_header(0.2) == "1" and retry_after_header(29.1) == "30"


def test_the_limiter_forgets_idle_keys() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(1, 10.0, lambda: now[0])
    for i in range(10_000):
        limiter.hit(f"k{i}")
    now[0] = 11.0
    limiter.hit("fresh")
    assert len(limiter) == 1


# Errors and health -----------------------------------------------------------------------------


def test_unknown_pages_and_methods_get_friendly_pages(site: Site) -> None:
    client = site.client()
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "Page not found" in missing.text
    wrong = client.put("/subscribe")
    assert wrong.status_code == 405 and "Not allowed" in wrong.text


def test_an_unexpected_error_shows_a_generic_page_without_details(site: Site) -> None:
    async def boom(request: object) -> Response:
        raise RuntimeError("secret internal detail")

    site.app.router.routes.append(Route("/boom", boom))
    response = site.client().get("/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


def test_healthz_reports_the_database(site: Site) -> None:
    response = site.client().get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"


def test_healthz_fails_when_the_database_is_unreachable(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    broken = Store(create_engine(f"sqlite:///{tmp_path}/missing-folder/digest.db"))
    with serve(create_app(settings, broken)) as base:
        response = httpx.get(f"{base}/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_the_app_refuses_to_start_without_a_secret_key(make_settings, store) -> None:  # type: ignore[no-untyped-def]
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="secret_key"):
        create_app(make_settings(site={"secret_key": []}), store)


def test_tokens_never_reach_another_site_through_the_referer(site: Site) -> None:
    html = site.client().get(_pages(site)["preferences"]).text
    external = re.findall(r'<a [^>]*href="https?://[^"]+"[^>]*>', html)
    assert all("noreferrer" in tag or "noopener" in tag for tag in external)


class _Controls(HTMLParser):
    """Form controls and the labels that name them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "label" and values.get("for"):
            self.labels.add(str(values["for"]))
        if tag in ("input", "select", "textarea") and values.get("type") != "hidden":
            self.controls.append(str(values.get("id")))


def test_every_form_control_has_a_visible_label(site: Site) -> None:
    client = site.client()
    for name, path in _pages(site).items():
        parser = _Controls()
        parser.feed(client.get(path).text)
        unlabelled = [c for c in parser.controls if c not in parser.labels]
        assert unlabelled == [], name


def test_the_app_factory_keeps_the_signature_digest_serve_relies_on() -> None:
    import inspect

    import digest.web

    assert digest.web.__all__ == ["create_app"]
    parameters = inspect.signature(create_app).parameters
    assert list(parameters) == ["settings", "store", "clock"]
    assert parameters["clock"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["clock"].default is None
