"""The message that goes on the wire: a hand-assembled multipart/alternative and its headers.

`build_mime` writes the bytes directly instead of building an `EmailMessage` and flattening it
(2–6 ms per 40 KB digest, more than rendering it): both parts are quoted-printable encoded by
`binascii` (C), lines end in CRLF and stay under 76 characters, and the boundary starts with
"=_", which quoted-printable output can never contain. The result is checked against the stdlib
parser in tests/test_render_mime.py.

`compose` turns one rendered edition into an `OutgoingMessage` with every header a list mail
needs (issue 5): From with a name, To, Reply-To, Subject, Date (+0000), a Message-ID stable per
(subscriber, edition) so a resend after a crash is recognisable as the same mail, List-Id,
List-Unsubscribe with a signed https link (and a mailto when configured), one-click
List-Unsubscribe-Post (RFC 8058), Auto-Submitted and Precedence: bulk (keeps vacation responders
quiet; no spam filter penalises it).
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from digest.deliver.headers import (
    check_value,
    date_header,
    domain_of,
    encode_header,
    format_address,
    named_address,
    validate_address,
)
from digest.errors import DeliveryError
from digest.models import Edition
from digest.render.context import DigestLinks
from digest.settings import Settings

if TYPE_CHECKING:
    from digest.render import RenderedDigest, Renderer

_RESERVED = frozenset({"mime-version", "content-type", "content-transfer-encoding"})


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    recipient: str  # envelope RCPT TO, validated ASCII form
    message_id: str
    data: bytes
    subscriber_id: int | None
    edition: date | None


def _quoted_printable(text: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line breaks.

    MIME text is line-oriented (RFC 2046 4.1.1): a lone CR, a lone LF and CRLF all mean one line
    break, so they are normalised here (and read back as CRLF)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True)
    if b"=09\n" in encoded or b"=20\n" in encoded:  # rare: only these lines can run long
        encoded = _wrap_long_lines(encoded)
    return encoded.replace(b"\n", b"\r\n")


_MAX_LINE = 76  # RFC 2045 6.7 (5): encoded lines are at most 76 characters


def _wrap_long_lines(encoded: bytes) -> bytes:
    """b2a_qp escapes whitespace that ends a line without checking the length, so a line of 74
    or 75 characters ending in a tab or space comes out at 77 or 78: move the escape after a
    soft line break, as b2a_qp itself does at the end of its input."""
    lines = encoded.split(b"\n")
    for n, line in enumerate(lines):
        if len(line) > _MAX_LINE and line[-3:] in (b"=09", b"=20"):
            lines[n] = line[:-3] + b"=\n" + line[-3:]
    return b"\n".join(lines)


# The encoded-piece memos below: bench/caches.py 1,143 msg/s with them, 574 without (+99% CPU).
_LINES: dict[str, bytes] = {}
_BLOCKS: dict[str, bytes] = {}


def _quoted_printable_by_line(text: str) -> bytes:
    """`_quoted_printable`, with each distinct paragraph encoded once per process.

    Quoted-printable encodes every hard line on its own, so encoding the blocks between blank
    lines separately and joining them with an encoded blank line (CRLF CRLF) is exact; most
    blocks of the text part (an abstract, a paper's topics and links) are the same for every
    reader who gets that paper, and the others are encoded line by line from a line cache."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _cached_join(text.split("\n\n"), _BLOCKS, _encode_lines, b"\r\n\r\n")


def _encode_lines(text: str) -> bytes:
    """Quoted-printable of `text` (no CR in it), each distinct line encoded once per process."""
    return _cached_join(text.split("\n"), _LINES, _quoted_printable, b"\r\n")


def _cached_join(
    parts: list[str], cache: dict[str, bytes], encode: Callable[[str], bytes], separator: bytes
) -> bytes:
    """`separator.join(encode(part) ...)`, each distinct part encoded once per process."""
    out = list(map(cache.get, parts))  # look them all up at C speed
    if None in out:
        for n, encoded in enumerate(out):
            if encoded is None:
                part = parts[n]
                if len(cache) >= _PIECES_LIMIT:
                    cache.clear()
                out[n] = cache[part] = encode(part)
    return separator.join(out)  # type: ignore[arg-type]  # no None is left


# Per distinct piece: (quoted-printable as if starting at column 0 with CRLF breaks, length of
# its first line, length of its last line, whether it spans lines, whether it holds a CR).
_Piece = tuple[bytes, int, int, bool, bool]
_PIECES: dict[str, _Piece] = {}
_PIECES_LIMIT = 20_000  # bounds memory; a run rarely has more distinct pieces
_MAX_CONTENT = 75  # b2a_qp keeps content lines at 75 + "=" (RFC 2045: 76)


def _piece(text: str) -> _Piece:
    data = _quoted_printable(text)
    lines = data.split(b"\r\n")
    if len(lines[-1]) > _MAX_CONTENT:
        # b2a_qp may end on a full 76-character line; leave room for a soft break after it,
        # moving the last character (or escape) to a line of its own.
        last = lines[-1]
        cut = len(last) - 3 if last[-3:-2] == b"=" else len(last) - 1
        lines[-1:] = [last[:cut] + b"=", last[cut:]]
        data = b"\r\n".join(lines)
    return data, len(lines[0]), len(lines[-1]), len(lines) > 1, "\r" in text


def _pieces_encoded(pieces: Sequence[str]) -> list[bytes]:
    """Quoted-printable of "".join(pieces), encoding each distinct piece once per process.

    The compiled HTML template yields the same static chunks for every reader (and the same
    paper cards for many). Each piece is encoded on its own as if it began a line; pieces are
    joined on one line while it stays under 76 characters, else after a soft line break
    ("=" CRLF), which decodes to nothing. Decoded, the result is byte for byte the joined text.
    The join is left to build_mime, which joins the whole message once."""
    out: list[bytes] = []
    append = out.append
    column = 0
    cache = _PIECES
    get = cache.get
    for text in pieces:
        piece = get(text)
        if piece is None:
            piece = _piece(text)
            if len(cache) >= _PIECES_LIMIT:
                cache.clear()
            cache[text] = piece
        data, first, last, multiline, has_cr = piece
        if has_cr:  # a CR may pair with an LF in the next piece: encode the joined text
            return [_quoted_printable("".join(pieces))]
        if column + first > _MAX_CONTENT:
            append(b"=\r\n")
            column = 0
        append(data)
        column = last if multiline else column + first
    return out


class _CarriageReturn(Exception):
    """A CR turned up: it may pair with an LF in the next piece, so encode the joined text."""


# Per distinct piece of a text part holding a line break: its text up to the first break, the
# encoding of the break and of every whole line after it (each with its CRLF), and its text
# after the last break. Pieces without a break are never looked up: they only extend a line.
_TextPiece = tuple[str, bytes, str]
_TEXT_PIECES: dict[str, _TextPiece] = {}


def _encoded_line(line: str) -> bytes:
    """Quoted-printable of one line (no LF in it), from the line cache."""
    encoded = _LINES.get(line)
    if encoded is None:
        if "\r" in line:
            raise _CarriageReturn
        if len(_LINES) >= _PIECES_LIMIT:
            _LINES.clear()
        encoded = _LINES[line] = _quoted_printable(line)
    return encoded


def _text_piece(text: str) -> _TextPiece:
    if "\r" in text:
        raise _CarriageReturn
    first, last = text.index("\n"), text.rindex("\n")
    inner = _encode_lines(text[first + 1 : last]) + b"\r\n" if last > first else b""
    piece = (text[:first], b"\r\n" + inner, text[last + 1 :])
    if len(_TEXT_PIECES) >= _PIECES_LIMIT:
        _TEXT_PIECES.clear()
    _TEXT_PIECES[text] = piece
    return piece


def quoted_printable_text(pieces: Sequence[str]) -> bytes:
    """Exactly `_quoted_printable_by_line("".join(pieces))` (how a text part given whole is
    encoded), without joining and splitting the text.

    Quoted-printable encodes every hard line on its own. A piece's whole lines (most of a
    paper's entry, the same string object for every reader who gets that paper) are encoded once
    per process and found by the piece's cached hash; only the lines that pieces share with
    their neighbours ("3. " + a title, "Hi " + a name) are joined and looked up per mail."""
    out: list[bytes] = []
    line: list[str] = []
    get = _TEXT_PIECES.get
    try:
        for text in pieces:
            if "\n" not in text:
                line.append(text)
                continue
            piece = get(text) or _text_piece(text)
            line.append(piece[0])
            out += (_encoded_line("".join(line)), piece[1])
            line = [piece[2]]
        out.append(_encoded_line("".join(line)))
    except _CarriageReturn:
        return _quoted_printable_by_line("".join(pieces))
    return b"".join(out)


def _encode_text(content: str | Sequence[str]) -> bytes:
    if isinstance(content, str):
        return _quoted_printable_by_line(content)
    return quoted_printable_text(content)


def _encode_html(content: str | Sequence[str]) -> list[bytes]:
    if isinstance(content, str):
        return [_quoted_printable_by_line(content)]
    return _pieces_encoded(content)


def _part_head(content_type: str) -> bytes:
    return (
        f"Content-Type: {content_type}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode("ascii")


_TEXT_HEAD = _part_head("text/plain")
_HTML_HEAD = _part_head("text/html")


def build_mime(
    headers: list[tuple[str, str]], text: str | Sequence[str], html: str | Sequence[str]
) -> bytes:
    """A complete multipart/alternative message: text part first, HTML last (clients show the
    last part they can display). MIME-Version and Content-Type are added here. Each part may be
    given as the pieces its template yielded: text pieces encode to exactly the bytes of their
    joined text (`quoted_printable_text`), HTML pieces with soft line breaks between them
    (`_pieces_encoded`)."""
    lines: list[str] = []
    for name, value in headers:
        if name.lower() in _RESERVED:
            raise DeliveryError(f"header {name} is set by build_mime; do not pass it")
        lines.append(encode_header(name, value))
    head = "\r\n".join(lines).encode("ascii")
    text_body = _encode_text(text)
    # The HTML part stays in its encoded pieces: the message is joined once, at the end.
    html_body = _encode_html(html)
    # Deterministic per message (same input, same bytes: a preview .eml equals what is sent),
    # unique in practice across messages (the head holds the Message-ID and Date), and
    # impossible inside quoted-printable text, where "=" is always followed by hex or CRLF.
    fingerprint = hashlib.blake2b(head, digest_size=12)
    fingerprint.update(text_body)
    fingerprint.update(b"%d" % sum(map(len, html_body)))
    boundary = f"=_{fingerprint.hexdigest()}".encode("ascii")
    delimiter = b"\r\n--" + boundary + b"\r\n"
    return b"".join(
        (
            head,
            b'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="',
            boundary,
            b'"\r\n\r\n',
            delimiter[2:],
            _TEXT_HEAD,
            text_body,
            delimiter,
            _HTML_HEAD,
            *html_body,
            b"\r\n--",
            boundary,
            b"--\r\n",
        )
    )


def message_id(edition: Edition, from_address: str) -> str:
    """`<edition.hash@domain>`: the same (subscriber, edition) always gets the same id, and the
    id reveals neither the address nor the database key."""
    public_id = edition.subscriber.public_id
    token = hashlib.sha256(f"{public_id}\0{edition.date.isoformat()}".encode()).hexdigest()[:24]
    return f"<{edition.date.isoformat()}.{token}@{domain_of(from_address)}>"


def list_headers(settings: Settings, links: DigestLinks) -> list[tuple[str, str]]:
    sender = settings.sender
    unsubscribe = f"<{links.unsubscribe}>"
    if sender.unsubscribe_mailto:
        mailto = format_address(
            None, sender.unsubscribe_mailto, field="[sender] unsubscribe_mailto"
        )
        unsubscribe += f", <mailto:{mailto}?subject=unsubscribe>"
    list_name = settings.digest.list_name.replace("\\", "").replace('"', "")
    return [
        ("List-Id", f'"{list_name}" <{sender.list_id}>'),
        ("List-Unsubscribe", unsubscribe),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("Auto-Submitted", "auto-generated"),
        ("Precedence", "bulk"),
    ]


def compose(
    edition: Edition,
    settings: Settings,
    links: DigestLinks,
    *,
    renderer: Renderer,
    now: datetime,
) -> OutgoingMessage:
    """One reader's digest as the exact bytes to hand to SMTP (and to write as a preview .eml).

    Every header input is validated before anything is rendered: DeliveryError names the
    field."""
    return compose_rendered(edition, settings, links, renderer=renderer, now=now)[0]


def compose_rendered(
    edition: Edition,
    settings: Settings,
    links: DigestLinks,
    *,
    renderer: Renderer,
    now: datetime,
) -> tuple[OutgoingMessage, RenderedDigest]:
    """`compose`, also returning the rendered parts (preview writes them beside the .eml)."""
    sender = settings.sender
    profile = edition.subscriber.profile
    # Each address is validated once: the From header and the Message-ID domain share one.
    from_address = validate_address(sender.from_address, field="[sender] from_address")
    from_header = named_address(sender.from_name, from_address, field="[sender] from_address")
    recipient = validate_address(profile.email, field="subscriber email")
    to_header = named_address(profile.name, recipient, field="subscriber email")
    reply_to = (
        format_address(None, sender.reply_to, field="[sender] reply_to")
        if sender.reply_to
        else None
    )
    check_value("[sender] list_id", sender.list_id)
    check_value("[site] base_url", settings.site.base_url)
    mid = message_id(edition, from_address)
    rendered = renderer.render(edition, links)
    headers = [
        ("Date", date_header(now)),
        ("From", from_header),
        ("To", to_header),
    ]
    if reply_to:
        headers.append(("Reply-To", reply_to))
    headers += [("Subject", rendered.subject), ("Message-ID", mid), *list_headers(settings, links)]
    message = OutgoingMessage(
        recipient=recipient,
        message_id=mid,
        data=build_mime(headers, rendered.text_pieces, rendered.html_pieces),
        subscriber_id=edition.subscriber.id,
        edition=edition.date,
    )
    return message, rendered
