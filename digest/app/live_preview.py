"""The live preview on the preferences page: the digest these settings would produce now.

It is `digest.app.edition.preview_for_profile` (the edition rules of a first edition), so what the
reader sees while editing is what a first digest would carry from the current papers. What this
module adds is cost control: indexing papers takes hundreds of milliseconds for a few hundred
papers, and the preview is asked for on every debounced keystroke. Here one
`PaperIndex` over the last `DEFAULT_LOOKBACK` of papers (enough for a weekly window) is built
once and reused, with its `Matcher` and that matcher's per-query cache, until an ingest changes
the papers (a one-row fingerprint query says so) or the index is an hour old.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.app.edition import DEFAULT_LOOKBACK, preview_for_profile
from digest.match import Matcher, PaperIndex
from digest.match.aliases import load_aliases
from digest.match.explanation import explanation
from digest.models import Edition, Paper, Profile
from digest.profiles.cadence import hand_send_edition
from digest.render import DigestLinks, Renderer
from digest.settings import Settings
from digest.store import Store
from digest.store.papers import Fingerprint, fingerprint, list_papers

# Newest papers indexed for previews; far more than a week of any listing holds.
PREVIEW_POOL = 5000
# Ranking may weigh recency: an index built at one instant is reused for at most this long.
INDEX_MAX_AGE = timedelta(hours=1)

# The e-mail preview is a whole foreign HTML document (inline <style>, remote images): shown in
# a sandbox with scripts, forms and navigation off, it cannot act on the page around it.
EMAIL_PREVIEW_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "font-src https:; frame-ancestors 'self'"
)


@dataclass(frozen=True, slots=True)
class _Index:
    fingerprint: Fingerprint
    built_at: datetime
    papers: list[Paper]
    matcher: Matcher


class PreviewSource:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._aliases = load_aliases(settings.match.aliases_file)
        self._store = store
        self._lock = threading.Lock()
        self._index: _Index | None = None
        self._renderer: Renderer | None = None

    def _current(self, now: datetime) -> _Index:
        with self._store.session() as session:
            current = fingerprint(session)
            with self._lock:
                index = self._index
            if (
                index is not None
                and index.fingerprint == current
                and timedelta(0) <= now - index.built_at < INDEX_MAX_AGE
            ):
                return index
            papers = list_papers(session, limit=PREVIEW_POOL, seen_after=now - DEFAULT_LOOKBACK)
        index = _Index(
            current, now, papers, Matcher(PaperIndex.build(papers, now=now), aliases=self._aliases)
        )
        with self._lock:
            self._index = index
        return index

    def papers(self, now: datetime) -> Sequence[Paper]:
        return self._current(now).papers

    def edition(self, profile: Profile, *, now: datetime) -> Edition:
        """The first edition `profile` would get now (no ledger: nothing was sent yet)."""
        index = self._current(now)
        with self._lock:  # the matcher's caches are shared by concurrent requests
            return preview_for_profile(
                profile,
                index.papers,
                self._settings,
                edition_date=hand_send_edition(
                    profile.cadence, profile.send_time, profile.timezone, now
                ),
                now=now,
                matcher=index.matcher,
            )

    def understood(self, profile: Profile, *, now: datetime) -> list[tuple[str, list[str]]]:
        """How each topic's query is read over the papers the preview draws on (which words
        are required, which are too common to gate a match, what else they match), as
        `digest match --explain` says it: (topic name, lines) per topic."""
        index = self._current(now)
        with self._lock:
            return [
                (topic.name, explanation(topic.query, index.matcher.explain(topic.query)))
                for topic in profile.topics
            ]

    def email_html(self, profile: Profile, links: DigestLinks, *, now: datetime) -> str:
        """The full digest mail as HTML (templates compiled once, on first use)."""
        edition = self.edition(profile, now=now)
        with self._lock:
            if self._renderer is None:
                self._renderer = Renderer(self._settings)
            renderer = self._renderer
        return renderer.render(edition, links).html
