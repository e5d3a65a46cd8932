"""The live preview on the preferences page: the digest these settings would produce now.

It is built by the same edition code as `digest preview` and `digest send` (without the ledger),
so what the reader sees while editing is what the next mail would carry from the current papers.
The page shows a compact HTML fragment; the full e-mail, rendered by the digest renderer, opens in
a sandboxed frame. Papers are re-read from the store at most once a minute: the preview is
refreshed on every (debounced) keystroke, so the papers are read once and re-read only when a
cheap fingerprint query (count, newest update) says an ingest changed them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select

from digest.edition import preview_for_profile
from digest.models import Edition, Paper, Profile
from digest.render import DigestLinks, Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import list_papers
from digest.store.schema import PaperRow

# Newest papers considered for a preview; far more than any cadence window holds.
PREVIEW_POOL = 2000

# The e-mail preview is a whole foreign HTML document (inline <style>, remote images): shown in
# a sandbox with scripts, forms and navigation off, it cannot act on the page around it.
EMAIL_PREVIEW_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "font-src https:; frame-ancestors 'self'"
)


class PreviewSource:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._lock = threading.Lock()
        self._papers: tuple[tuple[int, datetime | None], list[Paper]] | None = None
        self._renderer: Renderer | None = None

    def papers(self) -> Sequence[Paper]:
        with self._store.session() as session:
            count, newest = session.execute(
                select(func.count(), func.max(PaperRow.updated_at))
            ).one()
            fingerprint = (int(count), newest)
            with self._lock:
                cached = self._papers
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            papers = list_papers(session, limit=PREVIEW_POOL)
        with self._lock:
            self._papers = (fingerprint, papers)
        return papers

    def edition(self, profile: Profile, *, now: datetime) -> Edition:
        return preview_for_profile(profile, self.papers(), self._settings, now=now)

    def email_html(self, profile: Profile, links: DigestLinks, *, now: datetime) -> str:
        """The full digest mail as HTML (templates compiled once, on first use)."""
        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(self._settings)
            renderer = self._renderer
        return renderer.render(self.edition(profile, now=now), links).html
