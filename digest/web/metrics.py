"""GET /metrics: the list's health in Prometheus text format, behind the admin password.

Figures are read from the database at scrape time (one unit of work), not counted in process
memory: every `digest send`, `digest serve` and cron run on any machine shows up, and a restart
loses nothing. So all of them are gauges of what the store holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.app.admin import MetricsSnapshot, metrics_snapshot
from digest.web.admin_auth import require_admin


def _timestamp(value: datetime | None) -> float:
    """Seconds since the epoch; 0 for "never" (alert rules compare against time())."""
    return value.timestamp() if value is not None else 0.0


class SnapshotCollector(Collector):
    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        subscribers = GaugeMetricFamily(
            "digest_subscribers", "Subscribers by status.", labels=["status"]
        )
        for status, count in s.subscribers.items():
            subscribers.add_metric([status], count)
        yield subscribers
        deliveries = GaugeMetricFamily(
            "digest_deliveries",
            "Ledger rows (one per reader and edition) by outcome.",
            labels=["outcome"],
        )
        for outcome, count in s.deliveries.items():
            deliveries.add_metric([outcome], count)
        yield deliveries
        yield GaugeMetricFamily(
            "digest_suppressions", "Addresses never to be mailed again.", value=s.suppressions
        )
        yield GaugeMetricFamily(
            "digest_last_send_success_timestamp_seconds",
            "When a mail server last accepted a digest (0: never).",
            value=_timestamp(s.last_send),
        )
        last_ok = GaugeMetricFamily(
            "digest_last_ingest_success_timestamp_seconds",
            "When each source was last ingested without error (0: never).",
            labels=["source"],
        )
        last_run = GaugeMetricFamily(
            "digest_last_ingest_timestamp_seconds",
            "When each source was last ingested, successfully or not.",
            labels=["source"],
        )
        failed = GaugeMetricFamily(
            "digest_last_ingest_failed",
            "1 when the newest ingest of the source failed, else 0.",
            labels=["source"],
        )
        papers = GaugeMetricFamily(
            "digest_ingest_papers",
            "Papers the newest ingest of each source parsed, and how many of them were new.",
            labels=["source", "kind"],
        )
        for source in s.sources:
            last_ok.add_metric([source.source], _timestamp(source.last_success))
            last_run.add_metric([source.source], _timestamp(source.last_run))
            failed.add_metric([source.source], 1.0 if source.failed else 0.0)
            papers.add_metric([source.source, "parsed"], source.parsed)
            papers.add_metric([source.source, "new"], source.new)
        yield from (last_ok, last_run, failed, papers)


def exposition(snapshot: MetricsSnapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    web = require_admin(request)
    snapshot = await run_in_threadpool(metrics_snapshot, web.store)
    return Response(exposition(snapshot), media_type=CONTENT_TYPE_LATEST)


ROUTES = [Route("/metrics", metrics, methods=["GET"], name="metrics")]
