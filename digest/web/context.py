"""What every route needs, built once per app: settings, store, signer, pages, limits, clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request

from digest.app.live_preview import PreviewSource
from digest.app.tokens import Purpose, Signer
from digest.settings import Settings
from digest.store import Store
from digest.web.notices import Notices
from digest.web.pages import Pages
from digest.web.ratelimit import SlidingWindowLimiter
from digest.web.security import csrf_valid

Clock = Callable[[], datetime]

# Sign-up attempts for one address: a handful per hour is plenty for a human with typos, and
# far too few to mail-bomb anyone (the confirmation window caps actual mails further).
EMAIL_ATTEMPTS_PER_HOUR = 5
# Live previews per client per minute: typing (debounced) asks for a few a second at most; the
# cap keeps one token holder from turning the matcher into a CPU sink.
PREVIEWS_PER_MINUTE = 120
# Wrong admin passwords per client per minute before every attempt from it is refused (429) for
# the rest of the minute: plenty for typos, far too few to guess a 12-character password.
ADMIN_FAILURES_PER_MINUTE = 10


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebContext:
    settings: Settings
    store: Store
    signer: Signer
    clock: Clock
    pages: Pages
    notices: Notices
    per_client: SlidingWindowLimiter
    per_email: SlidingWindowLimiter
    per_client_preview: SlidingWindowLimiter
    preview: PreviewSource
    admin_failures: SlidingWindowLimiter

    def csrf_ok(self, request: Request, fields: Mapping[str, Sequence[str]]) -> bool:
        return csrf_valid(request, fields, self.settings.secret_keys, self.settings.site.base_url)

    def now(self) -> datetime:
        """The app's clock, always aware UTC (the store refuses naive datetimes)."""
        value = self.clock()
        if value.tzinfo is None:
            raise ValueError("the web app's clock must return aware datetimes")
        return value.astimezone(UTC)

    def link(self, purpose: Purpose, public_id: str) -> str:
        """An absolute link for mails: `[site] base_url` + the route for this purpose."""
        return self.settings.site.base_url + self.path(purpose, public_id)

    def path(self, purpose: Purpose, public_id: str) -> str:
        route = {
            Purpose.CONFIRM: "confirm",
            Purpose.MANAGE: "preferences",
            Purpose.UNSUBSCRIBE: "unsubscribe",
        }[purpose]
        return f"/{route}/{self.signer.sign(purpose, public_id)}"


def web_context(request: Request) -> WebContext:
    context = request.app.state.web
    assert isinstance(context, WebContext)
    return context
