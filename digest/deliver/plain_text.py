"""One text/plain message, quoted-printable: what the operator's alerts and the replies to
readers' mail are made of. Every header goes through `encode_header`, which refuses line breaks."""

from __future__ import annotations

from collections.abc import Sequence

from digest.deliver.headers import encode_header
from digest.deliver.message import OutgoingMessage, quoted_printable_text


def compose_plain_text(
    headers: Sequence[tuple[str, str]], text: str, *, recipient: str, message_id: str
) -> OutgoingMessage:
    head = "\r\n".join(encode_header(name, value) for name, value in headers)
    data = (
        head.encode("ascii")
        + b"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + quoted_printable_text([text])
    )
    return OutgoingMessage(
        recipient=recipient, message_id=message_id, data=data, subscriber_id=None, edition=None
    )
