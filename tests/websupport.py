"""What the web tests share: a site (settings + store + app + movable clock + real SMTP server),
the app served over real HTTP by uvicorn on port 0, and readers for forms and mails."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.applications import Starlette

from digest.app.tokens import Purpose, Signer
from digest.models import Paper, Profile, Topic
from digest.settings import CatalogEntry, Settings
from digest.store import Store
from digest.store.papers import upsert_papers
from digest.store.schema import SubscriberRow
from digest.store.subscribers import create, get_row_by_email, to_subscriber
from digest.web import create_app
from digest.web.server import server_config
from tests.conftest import TEST_SECRET
from tests.smtpd import Received, SmtpServer

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Site:
    """One configured app, served over real HTTP on first use."""

    settings: Settings
    store: Store
    app: Starlette
    clock: Clock
    smtp: SmtpServer | None
    signer: Signer = field(init=False)
    _stack: ExitStack = field(init=False, default_factory=ExitStack)
    _base: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.signer = Signer(self.settings.secret_keys)

    @property
    def base_url(self) -> str:
        if self._base is None:
            self._base = self._stack.enter_context(serve(self.app))
        return self._base

    def client(self, **kwargs: Any) -> httpx.Client:
        """A new browser: its own cookie jar, following redirects like a browser does."""
        kwargs.setdefault("follow_redirects", True)
        return self._stack.enter_context(httpx.Client(base_url=self.base_url, **kwargs))

    def close(self) -> None:
        self._stack.close()

    def row(self, email: str) -> SubscriberRow | None:
        with self.store.session() as session:
            return get_row_by_email(session, email)

    def add(self, email: str, *, status: str = "active", topics: tuple[Topic, ...] = ()) -> str:
        """A stored subscriber; returns its public id."""
        profile = Profile(email=email, topics=topics or (Topic("LLMs", "llm"),))
        with self.store.session() as session:
            row = create(session, profile, status=status, origin="test", now=self.clock())  # type: ignore[arg-type]
            return row.public_id

    def status(self, email: str) -> str | None:
        row = self.row(email)
        return row.status if row else None

    def profile(self, email: str) -> Profile:
        with self.store.session() as session:
            row = get_row_by_email(session, email)
            assert row is not None
            return to_subscriber(row).profile

    def token(self, purpose: Purpose, public_id: str) -> str:
        return self.signer.sign(purpose, public_id)

    def add_papers(self, papers: list[Paper]) -> None:
        with self.store.session() as session:
            upsert_papers(session, papers, self.clock())

    @property
    def mails(self) -> list[Received]:
        assert self.smtp is not None
        return self.smtp.messages


class Sites:
    """Builds sites for one test and stops their servers afterwards. `mail_down=True` points
    the app at a port where no mail server listens."""

    def __init__(
        self, make_settings: Callable[..., Settings], store: Store, smtp: SmtpServer
    ) -> None:
        self._make_settings = make_settings
        self._store = store
        self._smtp = smtp
        self._sites: list[Site] = []

    def __call__(
        self, *, mail_down: bool = False, smtp_server: SmtpServer | None = None, **sections: Any
    ) -> Site:
        server = None if mail_down else (smtp_server or self._smtp)
        smtp_section = {
            "port": server.port if server else closed_port(),
            "max_attempts": 1,
            "timeout": 5,
        }
        smtp_section.update(sections.pop("smtp", {}))
        catalog = sections.pop("catalog", None)
        settings = self._make_settings(smtp=smtp_section, **sections)
        if catalog is not None:  # make_settings merges tables; a list replaces whole
            entries = [CatalogEntry(**entry) for entry in catalog]
            settings = settings.model_copy(update={"catalog": entries})
        clock = Clock()
        app = create_app(settings, self._store, clock=clock)
        site = Site(settings, self._store, app, clock, server)
        self._sites.append(site)
        return site

    def __enter__(self) -> Sites:
        return self

    def __exit__(self, *exc: object) -> None:
        for site in self._sites:
            site.close()


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused: the mail server is down)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def subscribe_form(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """The sign-up form as a browser would send it (after loading the page)."""
    page = client.get("/")
    values: dict[str, Any] = {
        "csrf_token": csrf_token(page.text),
        "email": "ada@example.org",
        "catalog": ["Large language models"],
        "topic_query": "",
        "cadence": "daily",
        "send_time": "08:00",
        "timezone": "Europe/Paris",
        "website": "",
    }
    values.update(fields)
    return values


LINK = re.compile(r"https://digest\.example\.org(/[a-z]+/[A-Za-z0-9_.\-]+)")


def links_in(mail: Received) -> list[str]:
    """Paths of the site links in a mail's text part, in order."""
    message = mail.message
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    return LINK.findall(text.get_content())


def expired_token(purpose: Purpose, public_id: str, *, age_days: float) -> str:
    """A correctly signed token minted `age_days` ago."""

    class Past(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - age_days * 86400)

    serializer = URLSafeTimedSerializer(
        TEST_SECRET, salt=f"papers-digest/{purpose.value}", signer=Past
    )
    return str(serializer.dumps(public_id))


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """The app on a real socket (uvicorn, 127.0.0.1, port 0) in a thread; yields its base URL."""
    # The project's own server configuration (proxy headers decided by the app, not uvicorn).
    config = server_config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def paper(pid: str, title: str, abstract: str = "", **extra: Any) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract or title, **extra)


def subscribe_answer(site: Site, email: str) -> str:
    """Submit the sign-up form for `email`; the (always neutral, 200) answer page."""
    client = site.client()
    response = client.post("/subscribe", data=subscribe_form(client, email=email))
    assert response.status_code == 200
    return response.text
