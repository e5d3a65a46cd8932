"""GET /metrics: Prometheus text format (read back with prometheus_client's own parser), the
figures taken from the database, behind the same password as /admin."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.adminsupport import ADMIN_PASSWORD, admin_client, populate
from tests.websupport import Sites


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_report_subscribers_deliveries_and_the_last_send(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    populate(site)
    response = admin_client(site).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("digest_subscribers", (("status", "active"),))] == 2
    assert found[("digest_subscribers", (("status", "pending"),))] == 1
    assert found[("digest_subscribers", (("status", "unsubscribed"),))] == 1
    assert found[("digest_subscribers", (("status", "bounced"),))] == 1
    assert found[("digest_deliveries", (("outcome", "sent"),))] == 3
    assert found[("digest_deliveries", (("outcome", "deferred"),))] == 3
    assert found[("digest_deliveries", (("outcome", "bounced"),))] == 1
    assert found[("digest_deliveries", (("outcome", "failed"),))] == 0
    assert found[("digest_suppressions", ())] == 1
    assert found[("digest_last_send_success_timestamp_seconds", ())] == site.clock().timestamp()


def test_an_empty_list_reports_zeros_and_never(sites: Sites) -> None:
    site = sites(admin={"password": ADMIN_PASSWORD})
    found = samples(admin_client(site).get("/metrics").text)
    assert found[("digest_subscribers", (("status", "active"),))] == 0
    assert found[("digest_last_send_success_timestamp_seconds", ())] == 0


def test_metrics_report_each_sources_last_ingest(sites: Sites, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from digest.app.ingest import ingest
    from digest.errors import SourceError
    from tests.conftest import ROOT

    site = sites(admin={"password": ADMIN_PASSWORD})
    sample = str(ROOT / "digest" / "samples" / "daily-papers-sample.txt")
    counts = ingest(site.store, [sample], now=site.clock())
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(SourceError):
        ingest(site.store, [missing], now=site.clock())
    found = samples(admin_client(site).get("/metrics").text)
    assert (
        found[("digest_ingest_papers", (("kind", "parsed"), ("source", sample)))] == counts.parsed
    )
    assert found[("digest_ingest_papers", (("kind", "new"), ("source", sample)))] == counts.new
    assert found[("digest_last_ingest_failed", (("source", sample),))] == 0
    assert found[("digest_last_ingest_failed", (("source", missing),))] == 1
    assert found[("digest_last_ingest_success_timestamp_seconds", (("source", missing),))] == 0
    ok = found[("digest_last_ingest_success_timestamp_seconds", (("source", sample),))]
    assert ok >= site.clock().timestamp()
