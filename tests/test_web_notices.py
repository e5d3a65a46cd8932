"""The mails sign-up sends (confirm, already subscribed, welcome): their parts, escaping and
overrides, and what the reader sees when the mail server is down or refuses."""

from __future__ import annotations

from tests.delivery_support import postgres_url  # noqa: F401 (a fixture)
from tests.smtpd import SmtpServer
from tests.websupport import (
    Site,
    Sites,
    csrf_token,
    links_in,
    subscribe_answer,
    subscribe_form,
)

# The mail server is down ------------------------------------------------------------------------


def test_when_the_mail_server_is_down_the_reader_is_asked_to_retry_and_nothing_is_lost(
    sites: Sites,
) -> None:
    down = sites(mail_down=True)
    client = down.client()
    response = client.post("/subscribe", data=subscribe_form(client))
    assert response.status_code == 503
    assert "try again" in response.text.lower()
    assert response.headers["retry-after"] == "60"
    row = down.row("ada@example.org")
    assert row is not None and row.status == "pending" and row.confirmation_sent_at is None

    # The server is back: the same request now sends the mail at once (no window started).
    up = sites()
    client = up.client()
    assert client.post("/subscribe", data=subscribe_form(client)).status_code == 200
    assert len(up.mails) == 1


def test_a_permanent_refusal_still_gets_the_neutral_answer(sites: Sites) -> None:
    from tests.smtpd import RecordingHandler

    handler = RecordingHandler(rcpt_fault=lambda address: "550 5.1.1 no such user")
    with SmtpServer(handler) as server:
        site = sites(smtp_server=server)
        response = _answer_with(site, "ghost@example.org")
    assert response == 200
    assert site.status("ghost@example.org") == "pending"


def _answer_with(site: Site, email: str) -> int:
    client = site.client()
    return client.post("/subscribe", data=subscribe_form(client, email=email)).status_code


# The mails themselves -------------------------------------------------------------------------


def test_notices_have_a_text_and_an_html_part_and_escape_the_list_name(sites: Sites) -> None:
    site = sites(
        digest={"list_name": "Lab <Papers> · Digest"},
        sender={"from_name": "Équipe Papers", "reply_to": "editors@example.org"},
    )
    subscribe_answer(site, "ada@example.org")
    [mail] = site.mails
    message = mail.message
    assert message["Subject"] == "Confirm your subscription to Lab <Papers> · Digest"
    assert str(message["From"]) == "Équipe Papers <digest@example.org>"
    assert message["Reply-To"] == "editors@example.org"
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Lab &lt;Papers&gt; · Digest" in html and "<Papers>" not in html
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Lab <Papers> · Digest" in text
    assert all(len(line) <= 998 for line in mail.data.split(b"\r\n"))
    assert b"\n" not in mail.data.replace(b"\r\n", b"")


def test_the_welcome_mail_lists_the_topics_and_both_links(site: Site) -> None:
    client = site.client()
    client.post(
        "/subscribe",
        data=subscribe_form(client, topic_query="au:hinton", cadence="weekly:wed"),
    )
    confirm = links_in(site.mails[0])[0]
    page = client.get(confirm)
    client.post(confirm, data={"csrf_token": csrf_token(page.text)})
    welcome = site.mails[1].message
    text = welcome.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "every Wednesday at 08:00 (Europe/Paris)" in text
    assert "Large language models" in text and "au:hinton" in text
    assert [p.split("/")[1] for p in links_in(site.mails[1])] == ["preferences", "unsubscribe"]


def test_an_operator_can_override_a_page_and_a_mail(sites: Sites, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "web" / "mail").mkdir(parents=True)
    (tmp_path / "web" / "check-inbox.html").write_text(
        '{% extends "web/base.html" %}{% block content %}<h1>Look for our mail</h1>{% endblock %}',
        encoding="utf-8",
    )
    (tmp_path / "web" / "mail" / "confirm.txt.j2").write_text(
        "Hi from the reading group! Confirm: {{ confirm_url }}\n", encoding="utf-8"
    )
    site = sites(render={"templates_dir": str(tmp_path)})
    assert "Look for our mail" in subscribe_answer(site, "ada@example.org")
    text = site.mails[0].message.get_body(preferencelist=("plain",))
    assert text is not None and text.get_content().startswith("Hi from the reading group!")
    assert links_in(site.mails[0])[0].startswith("/confirm/")


def test_a_failed_send_reopens_the_window_for_an_immediate_retry(sites: Sites) -> None:
    up = sites()
    subscribe_answer(up, "ada@example.org")
    down = sites(mail_down=True)
    down.clock.now = up.clock.now
    down.clock.advance(minutes=up.settings.web.confirmation_window_minutes + 1)
    client = down.client()
    assert client.post("/subscribe", data=subscribe_form(client)).status_code == 503
    assert down.row("ada@example.org").confirmation_sent_at is None  # type: ignore[union-attr]
    up.clock.now = down.clock.now
    subscribe_answer(up, "ada@example.org")
    assert len(up.mails) == 2
