"""Pages and helpers shared by the ingest tests."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.store import open_store
from digest.store.papers import fingerprint

NOW = datetime(2025, 10, 20, 9, 0, tzinfo=UTC)

TEXT_PAGE = """Daily Papers

Oct 17

Socratic-Zero : Bootstrapping Reasoning via Data-Free Agent Co-evolution

An abstract about agents.

alibaba-inc alibaba-inc
·
Sep 29 1

Multi-Draft Speculative Sampling: Canonical Architectures and Theoretical Limits

An abstract about drafts.

  • 3 authors
·
Oct 14, 2024 2
"""

API_PAGE = [
    {
        "paper": {
            "id": "2509.24726",
            "title": "Socratic-Zero: Bootstrapping Reasoning via Data-Free Agent\n  Co-evolution",
            "summary": "An abstract about agents.",
            "authors": [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}],
            "publishedAt": "2025-09-29T10:00:00.000Z",
            "upvotes": 40,
        },
        "numComments": 3,
        "submittedBy": {"name": "ada", "fullname": "Ada Lovelace"},
    },
    {
        "paper": {
            "id": "2410.18234",
            "title": "Multi-Draft Speculative Sampling: Canonical Architectures and "
            "Theoretical Limits",
            "summary": "An abstract about drafts.",
            "authors": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
            "publishedAt": "2024-10-23T19:28:34.000Z",
            "upvotes": 2,
        },
        "numComments": 2,
    },
]


def stored(db_url: str) -> int:
    store = open_store(db_url)
    try:
        with store.session() as session:
            return fingerprint(session)[0]
    finally:
        store.dispose()
