"""The digest as MIME bytes: a valid multipart/alternative that the stdlib parser reads back
exactly, and every header a list mail needs, built only from validated values.

Line breaks in decoded parts are compared as "\\n": MIME text travels in canonical form with CRLF
line breaks (RFC 2046 4.1.1), so a lone CR, a lone LF and CRLF in the input all come back as the
one line break the parser reports (CRLF), and nothing else changes.
"""

from __future__ import annotations

import email
import email.policy
import random
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from urllib.parse import urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.app.tokens import Purpose, Signer, digest_links
from digest.deliver.message import OutgoingMessage, build_mime, compose
from digest.errors import DeliveryError
from digest.render import DigestLinks, Renderer
from digest.settings import Settings
from tests.conftest import TEST_SECRET
from tests.render_samples import edition, paper, subscriber

NOW = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_wire_format(data: bytes) -> None:
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def parts(message: EmailMessage) -> list[EmailMessage]:
    found = list(message.iter_parts())
    assert all(isinstance(p, EmailMessage) for p in found)
    return found  # type: ignore[return-value]


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(),
    html=st.text(),
    subject=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=300),
)
def test_build_mime_round_trips_arbitrary_text(text: str, html: str, subject: str) -> None:
    data = build_mime([("Subject", subject), ("From", "a@example.org")], text, html)
    check_wire_format(data)
    message = parse(data)
    assert not message.defects
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = parts(message)
    assert (plain.get_content_type(), rich.get_content_type()) == ("text/plain", "text/html")
    assert plain.get_content_charset() == rich.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert lines(plain.get_content()) == lines(text)
    assert lines(rich.get_content()) == lines(html)
    # Whitespace right after "Subject:" is syntax, not content: compare without it.
    assert str(message["Subject"]).lstrip(" \t") == subject.lstrip(" \t")


@pytest.mark.parametrize("subject", ["=?utf-8?q?fake?=", "spaced  out  ", "a" * 200, "é" * 200])
def test_subject_edge_cases_round_trip(subject: str) -> None:
    assert parse(build_mime([("Subject", subject)], "", ""))["Subject"] == subject


@settings(max_examples=150, deadline=None)
@given(text=st.lists(st.text(), max_size=30), html=st.lists(st.text(), max_size=30))
def test_parts_given_as_template_pieces_round_trip(text: list[str], html: list[str]) -> None:
    """Pieces are encoded one by one (and cached), joined with soft line breaks as needed."""
    data = build_mime([("Subject", "pieces")], text, html)
    check_wire_format(data)
    assert max(len(line) for line in data.split(b"\r\n")) <= 76
    plain, rich = parts(parse(data))
    assert lines(plain.get_content()) == lines("".join(text))
    assert lines(rich.get_content()) == lines("".join(html))


def test_pieces_and_whole_text_decode_alike() -> None:
    pieces = ["<p>", "a" * 70, "é ", "=", "\n", " trailing ", "\r", "\n", "x" * 200, "</p>"]
    pieces += ["000\x1f\x08\x80\x80\x80𐀀𐀀𐀀𐀀0", "", "z" * 76, "y"]
    whole = parts(parse(build_mime([("Subject", "s")], "t", "".join(pieces))))[1].get_content()
    split = parts(parse(build_mime([("Subject", "s")], "t", pieces)))[1].get_content()
    assert whole == split


def test_long_lines_are_soft_wrapped_and_restored() -> None:
    html = "<p>" + "x" * 5000 + "</p>\n" + "é" * 3000 + " \t\n.\nFrom here"
    data = build_mime([("Subject", "s")], "plain", html)
    check_wire_format(data)
    assert max(len(line) for line in data.split(b"\r\n")) <= 76
    assert lines(parts(parse(data))[1].get_content()) == html


def test_boundary_is_deterministic_per_message_and_differs_between_messages() -> None:
    first = build_mime([("Subject", "one")], "text", "<p>html</p>")
    assert first == build_mime([("Subject", "one")], "text", "<p>html</p>")
    second = build_mime([("Subject", "two")], "text", "<p>html</p>")
    boundary = parse(first).get_boundary()
    assert boundary and boundary.startswith("=_")
    assert boundary != parse(second).get_boundary()


@pytest.mark.parametrize(
    "headers",
    [
        [("Subject", "hi\r\nBcc: victim@example.org")],
        [("Subject", "hi\nthere")],
        [("Subject", "nul\0")],
        [("X-Bad Name", "v")],
        [("Content-Type", "text/plain")],
    ],
)
def test_unsafe_headers_are_refused(headers: list[tuple[str, str]]) -> None:
    with pytest.raises(DeliveryError):
        build_mime(headers, "t", "h")


def test_long_and_non_ascii_headers_are_encoded_and_folded() -> None:
    subject = "Grüße · " + "sehr langer Betreff " * 10
    url = "https://digest.example.org/unsubscribe/" + "t" * 150
    data = build_mime(
        [("Subject", subject), ("List-Unsubscribe", f"<{url}>, <mailto:u@e.org>")], "t", "h"
    )
    check_wire_format(data)
    message = parse(data)
    assert message["Subject"] == subject
    assert message["List-Unsubscribe"] == f"<{url}>, <mailto:u@e.org>"
    assert b"=?utf-8?" in data


# --- compose: one reader's digest with every header ------------------------------------------


@pytest.fixture
def settings_(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(  # type: ignore[no-any-return]
        sender={
            "from_name": "Papers Digest — Lab",
            "from_address": "digest@lab.example.org",
            "reply_to": "editors@lab.example.org",
            "unsubscribe_mailto": "unsubscribe@lab.example.org",
            "list_id": "papers.lab.example.org",
        }
    )


def links_for(settings_: Settings, public_id: str) -> DigestLinks:
    return digest_links(settings_, Signer(settings_.secret_keys), public_id)


def compose_one(settings_: Settings, **kwargs: object) -> OutgoingMessage:
    signer = Signer(settings_.secret_keys)
    ed = kwargs.pop("ed", None) or edition(10)
    links = digest_links(settings_, signer, ed.subscriber.public_id)  # type: ignore[attr-defined]
    return compose(ed, settings_, links, renderer=Renderer(settings_), now=NOW)  # type: ignore[arg-type]


def test_compose_sets_every_list_header(settings_: Settings) -> None:
    out = compose_one(settings_)
    check_wire_format(out.data)
    message = parse(out.data)
    assert not message.defects
    assert out.recipient == "ada@example.org" and out.subscriber_id == 1
    assert str(out.edition) == "2026-11-29"
    assert message["From"].addresses[0].display_name == "Papers Digest — Lab"
    assert message["From"].addresses[0].addr_spec == "digest@lab.example.org"
    assert str(message["To"]) == "Ada <ada@example.org>"
    assert str(message["Reply-To"]) == "editors@lab.example.org"
    assert message["Subject"].startswith("Speculative decoding")
    assert message["Date"] == "Sun, 29 Nov 2026 07:30:00 +0000"
    assert message["Message-ID"] == out.message_id
    assert out.message_id.startswith("<2026-11-29.") and out.message_id.endswith(
        "@lab.example.org>"
    )
    assert message["MIME-Version"] == "1.0"
    assert message["List-Id"] == '"Papers Digest" <papers.lab.example.org>'
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Precedence"] == "bulk"
    https, mailto = (v.strip(" <>") for v in message["List-Unsubscribe"].split(","))
    assert mailto == "mailto:unsubscribe@lab.example.org?subject=unsubscribe"
    url = urlparse(https)
    assert (url.scheme, url.netloc) == ("https", "digest.example.org")
    token = url.path.removeprefix("/unsubscribe/")
    assert Signer([TEST_SECRET]).verify(Purpose.UNSUBSCRIBE, token) == "pub-1"
    plain, rich = parts(message)
    assert https in plain.get_content() and https in rich.get_content()
    manage = rich.get_content().split('href="https://digest.example.org/preferences/')[1]
    assert Signer([TEST_SECRET]).verify(Purpose.MANAGE, manage.split('"')[0]) == "pub-1"


def test_message_id_is_stable_per_subscriber_and_edition(settings_: Settings) -> None:
    first = compose_one(settings_)
    again = compose(
        edition(3),
        settings_,
        links_for(settings_, "pub-1"),
        renderer=Renderer(settings_),
        now=NOW + timedelta(hours=5),
    )
    other_day = compose_one(settings_, ed=edition(3, day=NOW.date() + timedelta(days=1)))
    other_reader = compose_one(settings_, ed=edition(3, sub=subscriber("bo@example.org", sid=2)))
    assert first.message_id == again.message_id
    assert len({first.message_id, other_day.message_id, other_reader.message_id}) == 3


def test_date_is_utc_with_numeric_zone(settings_: Settings) -> None:
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    out = compose(
        edition(1),
        settings_,
        links_for(settings_, "pub-1"),
        renderer=Renderer(settings_),
        now=local,
    )
    assert parse(out.data)["Date"] == "Sun, 29 Nov 2026 07:30:00 +0000"


def test_non_ascii_names_and_subjects_are_rfc2047_encoded(settings_: Settings) -> None:
    ed = edition(
        papers=[paper(1, title="Über Größe: 大規模言語モデル " * 4)],
        sub=subscriber("zoe@example.org", name="Zoë Ünal"),
    )
    out = compose_one(settings_, ed=ed)
    check_wire_format(out.data)
    message = parse(out.data)
    assert message["To"].addresses[0].display_name == "Zoë Ünal"
    assert "Über Größe: 大規模言語モデル" in message["Subject"]


@pytest.mark.parametrize(
    ("sender", "sub"),
    [
        ({}, subscriber("ada@example.org\r\nBcc: x@evil.example")),
        ({}, subscriber("not-an-address")),
        ({}, subscriber("ada@example.org", name="Ada\r\nBcc: x@evil.example")),
        ({"from_address": "digest@example.org\nBcc: x@y.org"}, subscriber()),
        ({"reply_to": "nobody"}, subscriber()),
        ({"list_id": "list.example.org\r\nX: y"}, subscriber()),
        ({"unsubscribe_mailto": "bad address"}, subscriber()),
    ],
)
def test_compose_refuses_unvalidated_input(make_settings, sender: dict[str, str], sub) -> None:  # type: ignore[no-untyped-def]
    settings_ = make_settings(sender=sender)
    with pytest.raises(DeliveryError):
        compose(
            edition(1, sub=sub),
            settings_,
            links_for(settings_, "pub-1"),
            renderer=Renderer(settings_),
            now=NOW,
        )


def test_hostile_paper_title_cannot_inject_headers(settings_: Settings) -> None:
    ed = edition(papers=[paper(1, title="Nice title\r\nBcc: victim@example.org\r\n\r\n<b>x</b>")])
    message = parse(compose_one(settings_, ed=ed).data)
    assert message["Bcc"] is None
    assert message["Subject"].endswith("Nice title Bcc: victim@example.org <b>x</b>")


def test_a_piece_ending_on_a_full_line_still_leaves_room_for_a_soft_break() -> None:
    pieces = ["000\x1f\x08\x80\x80\x80𐀀𐀀𐀀𐀀0", "", "y", "z" * 76, "w"]
    data = build_mime([("Subject", "s")], "t", pieces)
    assert max(len(line) for line in data.split(b"\r\n")) <= 76
    assert parts(parse(data))[1].get_content() == "".join(pieces)


ALPHABET = ["a", " ", "\t", "\n", "\n\n", "\r", "\r\n", "é", "=", "x" * 80, "  \n", "🎉", "."]
ALPHABET += ["x" * 73, "x" * 74, "x" * 75]  # whitespace right after them ends a full line


def decoded_parts(data: bytes) -> tuple[bytes, bytes]:
    """The text and HTML parts' bodies as their quoted-printable decodes to."""
    plain, rich = parts(parse(data))
    return plain.get_payload(decode=True), rich.get_payload(decode=True)  # type: ignore[return-value]


def test_the_text_part_decodes_to_the_text_with_crlf_and_keeps_lines_short() -> None:
    """Whatever the text (CRs, blank-line runs, trailing whitespace, long lines, non-ASCII), the
    text part decodes to exactly it with CRLF line breaks, every encoded line stays within 76
    characters, and the same text gives the same bytes every time."""
    rng = random.Random(7)
    for _ in range(3_000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30)))
        expected = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
        data = build_mime([("Subject", "s")], text, "h")
        assert decoded_parts(data)[0] == expected.encode(), repr(text)
        assert max(len(line) for line in data.split(b"\r\n")) <= 76, repr(text)
        assert build_mime([("Subject", "s")], text, "h") == data


def test_a_text_part_given_as_pieces_is_the_same_mail_as_its_joined_text() -> None:
    """Template pieces (CR and CRLF split between two pieces, blank lines, trailing whitespace,
    long lines, non-ASCII) give byte for byte the mail their joined text gives, however often
    the same pieces come back."""
    rng = random.Random(11)
    pool = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8))) for _ in range(60)]
    for _ in range(3_000):
        pieces = [rng.choice(pool) for _ in range(rng.randint(0, 12))]
        whole = build_mime([("Subject", "s")], "".join(pieces), "h")
        for _ in range(2):
            assert build_mime([("Subject", "s")], pieces, "h") == whole


@pytest.mark.parametrize("width", range(70, 80))
@pytest.mark.parametrize("space", [" ", "\t"])
def test_quoted_printable_lines_stay_within_76_characters(width: int, space: str) -> None:
    """RFC 2045 caps encoded lines at 76 characters; b2a_qp alone overruns it by one or two when
    a 74- or 75-character line ends in a space or tab. Each part, given whole or as pieces,
    keeps the cap and decodes back to the text."""
    text = "x" * width + space + "\nnext line\n" + "y" * width + space
    wire = text.replace("\n", "\r\n").encode()
    for body, html in (
        (text, text),
        ([text[:40], text[40:]], [text]),
        ("t", ["<p>", text, "</p>"]),
    ):
        data = build_mime([("Subject", "s")], body, html)
        assert max(len(line) for line in data.split(b"\r\n")) <= 76, data
        plain, rich = decoded_parts(data)
        assert plain == (wire if body != "t" else b"t")
        assert wire in rich
