"""Ingesting sources into the store: every source is read and parsed before anything is written.

A run over several sources is one transaction, so a bad file among good ones stores nothing and
the error names the bad one; re-running after fixing it gives the same result as a clean run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import BinaryIO

import httpx

from digest.models import Paper
from digest.sources import read
from digest.store import Store
from digest.store.papers import UpsertCounts, upsert_papers


def read_all(
    specs: Sequence[str],
    *,
    format: str | None = None,
    page_date: date | None = None,
    today: date,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    stdin: BinaryIO | None = None,
) -> list[Paper]:
    """Papers from every source, in order; the first failing source raises SourceError."""
    papers: list[Paper] = []
    for spec in specs:
        papers.extend(
            read(
                spec,
                format=format,
                page_date=page_date,
                transport=transport,
                timeout=timeout,
                stdin=stdin,
                today=today,
            )
        )
    return papers


def ingest(
    store: Store,
    specs: Sequence[str],
    *,
    format: str | None = None,
    page_date: date | None = None,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 20.0,
    stdin: BinaryIO | None = None,
) -> UpsertCounts:
    """Parse all `specs`, then upsert every paper in one transaction (all or nothing)."""
    papers = read_all(
        specs,
        format=format,
        page_date=page_date,
        today=now.date(),
        transport=transport,
        timeout=timeout,
        stdin=stdin,
    )
    with store.session() as session:
        return upsert_papers(session, papers, now)
