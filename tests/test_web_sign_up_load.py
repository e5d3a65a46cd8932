"""Signing up under load: one mail per address per window, rate limits, simultaneous requests
for one address, and the whole flow on PostgreSQL."""

from __future__ import annotations

import pytest

from digest.store import open_store
from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.smtpd import SmtpServer
from tests.websupport import Site, Sites, csrf_token, links_in, subscribe_answer, subscribe_form

# Limits ----------------------------------------------------------------------------------------


def test_at_most_one_mail_per_address_per_confirmation_window(site: Site) -> None:
    for _ in range(3):
        subscribe_answer(site, "ada@example.org")
    assert len(site.mails) == 1
    site.clock.advance(minutes=site.settings.web.confirmation_window_minutes - 1)
    subscribe_answer(site, "Ada@Example.org")  # the same address, whatever its case
    assert len(site.mails) == 1
    site.clock.advance(minutes=2)
    subscribe_answer(site, "ada@example.org")
    assert len(site.mails) == 2


def test_a_burst_from_one_client_is_throttled(sites: Sites) -> None:
    site = sites(web={"rate_limit_per_minute": 3})
    client = site.client()
    statuses = [
        client.post(
            "/subscribe", data=subscribe_form(client, email=f"r{i}@example.org")
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.post("/subscribe", data=subscribe_form(client, email="late@example.org"))
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many requests" in limited.text
    assert site.row("late@example.org") is None
    site.clock.advance(seconds=61)
    assert (
        client.post("/subscribe", data=subscribe_form(client, email="late@example.org")).status_code
        == 200
    )


def test_many_requests_for_one_address_are_throttled(sites: Sites) -> None:
    site = sites(web={"rate_limit_per_minute": 1000})
    client = site.client()
    statuses = [
        client.post("/subscribe", data=subscribe_form(client, email="ada@example.org")).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    assert len(site.mails) == 1


# Concurrency and PostgreSQL ---------------------------------------------------------------------


def _simultaneous_sign_ups(site: Site, count: int) -> list[int]:
    """`count` browsers submit the same new address at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    clients = [site.client() for _ in range(count)]
    forms = [subscribe_form(client) for client in clients]
    with ThreadPoolExecutor(count) as pool:
        return list(
            pool.map(
                lambda pair: pair[0].post("/subscribe", data=pair[1]).status_code,
                zip(clients, forms, strict=True),
            )
        )


def test_simultaneous_sign_ups_for_one_address_send_one_mail(site: Site) -> None:
    assert _simultaneous_sign_ups(site, 5) == [200] * 5
    assert len(site.mails) == 1
    assert site.status("ada@example.org") == "pending"


def test_the_sign_up_flow_on_postgresql(
    request: pytest.FixtureRequest,
    make_settings,  # type: ignore[no-untyped-def]
    smtp_server: SmtpServer,
) -> None:
    store = open_store(request.getfixturevalue("postgres_url"))
    try:
        with Sites(make_settings, store, smtp_server) as sites:
            site = sites()
            assert _simultaneous_sign_ups(site, 5) == [200] * 5
            assert len(site.mails) == 1
            [confirm] = links_in(site.mails[0])
            client = site.client()
            page = client.get(confirm)
            client.post(confirm, data={"csrf_token": csrf_token(page.text)})
            assert site.status("ada@example.org") == "active"
            manage, unsubscribe = links_in(site.mails[1])
            assert client.get(manage).status_code == 200
            assert (
                client.post(unsubscribe, content=b"List-Unsubscribe=One-Click").status_code == 200
            )
            assert site.status("ada@example.org") == "unsubscribed"
    finally:
        store.dispose()
