"""Signing up: the form, the neutral answer, double opt-in mails and bad input (limits, many
requests at once and PostgreSQL are in test_web_sign_up_load)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from digest.app.tokens import Purpose
from digest.store.subscribers import suppress
from tests.websupport import (
    Site,
    Sites,
    csrf_token,
    links_in,
    subscribe_answer,
    subscribe_form,
)

# The form -------------------------------------------------------------------------------------


def test_the_landing_page_offers_the_form_with_the_catalogue(site: Site) -> None:
    page = site.client().get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for label in (
        'for="email"',
        'for="topic_query"',
        'for="cadence"',
        'for="send_time"',
        'for="timezone"',
    ):
        assert label in html
    for entry in site.settings.catalog:
        assert f'value="{entry.name}"' in html.replace("&amp;", "&")
    assert 'name="website"' in html and 'tabindex="-1"' in html  # the honeypot
    assert 'name="csrf_token"' in html
    assert "digest_csrf=" in page.headers["set-cookie"]


def test_the_catalogue_comes_from_the_operators_settings(sites: Sites) -> None:
    site = sites(catalog=[{"name": "Graph learning", "query": "graph*"}])
    html = site.client().get("/").text
    assert "Graph learning" in html and "graph*" in html
    assert "Large language models" not in html


def test_get_subscribe_sends_the_reader_back_to_the_form(site: Site) -> None:
    response = site.client().get("/subscribe", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


# Double opt-in ---------------------------------------------------------------------------------


def test_a_new_address_gets_a_confirmation_mail_and_a_pending_record(site: Site) -> None:
    client = site.client()
    response = client.post(
        "/subscribe", data=subscribe_form(client, topic_query='"speculative decoding" OR kv')
    )
    assert response.status_code == 200
    assert "Check your inbox" in response.text

    row = site.row("ada@example.org")
    assert row is not None and row.status == "pending" and row.origin == "web"
    assert row.confirmation_sent_at == site.clock()
    profile = site.profile("ada@example.org")
    assert [t.name for t in profile.topics] == [
        "Large language models",
        '"speculative decoding" OR kv',
    ]
    assert (profile.timezone, profile.cadence, profile.send_time) == (
        "Europe/Paris",
        "daily",
        "08:00",
    )

    [mail] = site.mails
    assert mail.rcpt_tos == ["ada@example.org"]
    message = mail.message
    assert message["Subject"] == "Confirm your subscription to Papers Digest"
    assert message["To"] == "ada@example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.org>")
    assert message["Date"].endswith("+0000")
    [confirm] = links_in(mail)
    assert confirm.startswith("/confirm/")
    html = message.get_body(preferencelist=("html",))
    assert html is not None and confirm in html.get_content()


def test_the_token_in_the_link_carries_an_opaque_id_not_the_address(site: Site) -> None:
    client = site.client()
    client.post("/subscribe", data=subscribe_form(client))
    token = links_in(site.mails[0])[0].rsplit("/", 1)[1]
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    row = site.row("ada@example.org")
    assert row is not None
    assert json.loads(decoded) == row.public_id
    assert b"ada" not in decoded and b"example" not in decoded
    assert site.signer.verify(Purpose.CONFIRM, token) == row.public_id


def test_every_kind_of_address_gets_the_same_answer(site: Site) -> None:
    site.add("active@example.org", status="active")
    site.add("pending@example.org", status="pending")
    site.add("gone@example.org", status="unsubscribed")
    with site.store.session() as session:
        suppress(session, "bounced@example.org", "hard bounce", site.clock())
    answers = {
        subscribe_answer(site, email)
        for email in (
            "new@example.org",
            "active@example.org",
            "pending@example.org",
            "gone@example.org",
            "bounced@example.org",
            "nobody-reads-this@invalid-but-well-formed.example",
        )
    }
    assert len(answers) == 1


def test_a_confirmed_address_gets_a_manage_link_and_is_never_downgraded(site: Site) -> None:
    site.add("ada@example.org", status="active")
    before = site.profile("ada@example.org")
    client = site.client()
    client.post(
        "/subscribe",
        data=subscribe_form(client, catalog=["Robotics"], cadence="weekly:fri", timezone="UTC"),
    )
    assert site.status("ada@example.org") == "active"
    assert site.profile("ada@example.org") == before  # a stranger cannot rewrite it either
    [mail] = site.mails
    assert mail.message["Subject"] == "You are already subscribed to Papers Digest"
    [manage] = links_in(mail)
    assert manage.startswith("/preferences/")
    assert client.get(manage).status_code == 200


def test_a_pending_address_gets_a_new_confirmation_with_the_newest_settings(site: Site) -> None:
    site.add("ada@example.org", status="pending")
    client = site.client()
    client.post("/subscribe", data=subscribe_form(client, catalog=["Robotics"]))
    assert site.status("ada@example.org") == "pending"
    assert [t.name for t in site.profile("ada@example.org").topics] == ["Robotics"]
    assert links_in(site.mails[0])[0].startswith("/confirm/")


def test_an_unsubscribed_address_starts_over_as_pending(site: Site) -> None:
    site.add("ada@example.org", status="unsubscribed")
    client = site.client()
    client.post("/subscribe", data=subscribe_form(client))
    assert site.status("ada@example.org") == "pending"
    assert links_in(site.mails[0])[0].startswith("/confirm/")


def test_a_suppressed_address_gets_no_mail(site: Site) -> None:
    with site.store.session() as session:
        suppress(session, "ada@example.org", "complaint", site.clock())
    subscribe_answer(site, "ada@example.org")
    assert site.mails == []
    assert site.row("ada@example.org") is None


def test_the_honeypot_gets_the_neutral_answer_and_nothing_else(site: Site) -> None:
    client = site.client()
    response = client.post("/subscribe", data=subscribe_form(client, website="http://spam.example"))
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert site.row("ada@example.org") is None
    assert site.mails == []


# Bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "",
        "not-an-address",
        "ada@",
        "@example.org",
        "ada@example",
        "a b@example.org",
        "ada@example.org, eve@example.org",
        "ada@example.org\r\nBcc: victim@example.org",
        "ada@example.org\nSubject: hi",
        "ada@exa\rmple.org",
        "ada@example.org\x00",
        "x" * 400 + "@example.org",
        "josé@example.org",
    ],
)
def test_invalid_addresses_are_refused_with_a_friendly_message(site: Site, email: str) -> None:
    client = site.client()
    response = client.post("/subscribe", data=subscribe_form(client, email=email))
    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Traceback" not in response.text
    assert site.mails == []
    with site.store.session() as session:
        from digest.store.subscribers import list_subscribers

        assert list_subscribers(session) == []


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("josé@example.org", "Addresses with non-ASCII characters before the @ are not supported."),
        ("ada@", "This does not look like an email address: &#39;ada@&#39; is not a valid"),
        ("ada@example.org\r\nBcc: x@example.org", "Enter a single email address"),
    ],
)
def test_the_message_beside_the_address_says_what_is_wrong(
    site: Site, email: str, message: str
) -> None:
    client = site.client()
    response = client.post("/subscribe", data=subscribe_form(client, email=email))
    assert response.status_code == 422
    assert message in response.text


@pytest.mark.parametrize(
    ("field", "value", "error_id"),
    [
        ("timezone", "UTC\r\nBcc: victim@example.org", "timezone-error"),
        ("timezone", "Mars/Olympus", "timezone-error"),
        ("cadence", "hourly", "cadence-error"),
        ("cadence", "daily\r\nX-Injected: 1", "cadence-error"),
        ("send_time", "25:00", "send_time-error"),
        ("send_time", "8am", "send_time-error"),
        ("topic_query", "llm\r\nBcc: x@example.org", "topic_query-error"),
    ],
)
def test_bad_fields_are_refused_beside_the_field(
    site: Site, field: str, value: str, error_id: str
) -> None:
    client = site.client()
    response = client.post("/subscribe", data=subscribe_form(client, **{field: value}))
    assert response.status_code == 422
    assert f'id="{error_id}"' in response.text
    assert site.row("ada@example.org") is None and site.mails == []


def test_a_query_that_does_not_parse_is_reported_with_its_column(site: Site) -> None:
    client = site.client()
    response = client.post(
        "/subscribe", data=subscribe_form(client, catalog=[], topic_query='llm AND ("kv cache"')
    )
    assert response.status_code == 422
    assert "Column " in response.text
    assert "<mark>" in response.text
    # The reader's input is kept (escaped) so they can fix it.
    assert 'value="llm AND (&#34;kv cache&#34;"' in response.text


def test_at_least_one_topic_is_needed(site: Site) -> None:
    client = site.client()
    response = client.post("/subscribe", data=subscribe_form(client, catalog=[], topic_query=""))
    assert response.status_code == 422
    assert "at least one topic" in response.text


def test_unknown_catalogue_entries_are_ignored(site: Site) -> None:
    client = site.client()
    client.post(
        "/subscribe", data=subscribe_form(client, catalog=["Robotics", "<script>Evil</script>"])
    )
    assert [t.name for t in site.profile("ada@example.org").topics] == ["Robotics"]


def test_a_form_without_a_valid_csrf_token_is_refused(site: Site) -> None:
    client = site.client()
    form = subscribe_form(client)
    for token in ("", "forged", csrf_token(site.client().get("/").text)):  # another browser's
        response = client.post("/subscribe", data={**form, "csrf_token": token})
        assert response.status_code == 403
    fresh = site.client()  # a browser that never loaded the form has no cookie at all
    assert fresh.post("/subscribe", data=form).status_code == 403
    assert site.row("ada@example.org") is None and site.mails == []


def test_a_cross_site_post_is_refused(site: Site) -> None:
    client = site.client()
    response = client.post(
        "/subscribe", data=subscribe_form(client), headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    same = client.post("/subscribe", data=subscribe_form(client), headers={"Origin": site.base_url})
    assert same.status_code == 200


# Over real HTTP ---------------------------------------------------------------------------------


def test_sign_up_over_real_http_delivers_the_confirmation_mail(site: Site) -> None:
    with httpx.Client(base_url=site.base_url) as http:
        page = http.get("/")
        assert page.status_code == 200
        response = http.post(
            "/subscribe",
            data={
                "csrf_token": csrf_token(page.text),
                "email": "grace@example.org",
                "catalog": "Agents",
                "cadence": "weekly:mon",
                "send_time": "07:30",
                "timezone": "America/New_York",
                "website": "",
            },
        )
        assert response.status_code == 200
        assert "Check your inbox" in response.text
    [mail] = site.mails
    assert mail.rcpt_tos == ["grace@example.org"]
    profile = site.profile("grace@example.org")
    assert (profile.cadence, profile.send_time, profile.timezone) == (
        "weekly:mon",
        "07:30",
        "America/New_York",
    )
