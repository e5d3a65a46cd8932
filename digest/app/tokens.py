"""Signed, expiring tokens for every link that changes state.

One salt per purpose, so an unsubscribe token can never confirm an address and vice versa. The
payload is an opaque subscriber id (readable base64 JSON), never the address. Several secret keys
may be configured, newest first: links signed with an older key keep working until it is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer, want_bytes

from digest.errors import ConfigError, TokenError, map_value_errors
from digest.render import DigestLinks, FeedbackLinks
from digest.settings import Settings


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    EDITION = "edition"
    FEEDBACK = "feedback"


# Confirmation links die after 3 days and manage links after 180. Unsubscribe links never
# expire (None): RFC 8058 one-click must work for as long as a digest can sit in an inbox, and
# such a link can only ever unsubscribe the one reader it names. Dropping a key from
# `[site] secret_key` still retires every link signed with it.
MAX_AGE_SECONDS: dict[Purpose, int | None] = {
    Purpose.CONFIRM: 3 * 24 * 3600,
    Purpose.MANAGE: 180 * 24 * 3600,
    Purpose.UNSUBSCRIBE: None,
    Purpose.EDITION: 365 * 24 * 3600,
    Purpose.FEEDBACK: 180 * 24 * 3600,
}


class Signer:
    def __init__(self, secret_keys: list[str]) -> None:
        if not secret_keys or not all(secret_keys):
            raise ConfigError(
                "[site] secret_key is not set (or $DIGEST_SITE__SECRET_KEY); expected one or "
                "more long random strings, newest first; make one with: python3 -c "
                "'import secrets; print(secrets.token_urlsafe(32))'"
            )
        # itsdangerous signs with the last key and verifies with all of them.
        self._keys = list(reversed(secret_keys))
        # Built once: a send signs two links per message, and building a serializer costs as
        # much as signing with it.
        self._serializers = {
            purpose: URLSafeTimedSerializer(self._keys, salt=f"papers-digest/{purpose.value}")
            for purpose in Purpose
        }
        # `dumps` is dump_payload then make_signer().sign(): both steps are public, and a mail
        # signs one id twice. bench/render.py: compose 250 µs/msg this way, 290 via dumps (1.16x).
        self._signers = {purpose: s.make_signer() for purpose, s in self._serializers.items()}
        self._last: tuple[str, bytes] = ("", b"")

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return self._serializers[purpose]

    def sign(self, purpose: Purpose, public_id: str) -> str:
        """`URLSafeTimedSerializer(...).dumps(public_id)`, the same token."""
        last = self._last  # one read: another thread may replace it meanwhile
        if last[0] != public_id or not last[1]:
            payload = self._serializer(purpose).dump_payload(public_id)
            last = self._last = (public_id, want_bytes(payload))
        return self._signers[purpose].sign(last[1]).decode("ascii")

    def sign_once(self, purpose: Purpose, value: str) -> str:
        """`sign` for a value signed about once (one reader's paper), kept out of the cache."""
        payload = want_bytes(self._serializer(purpose).dump_payload(value))
        return self._signers[purpose].sign(payload).decode("ascii")

    def verify(self, purpose: Purpose, token: str, *, max_age: int | None = None) -> str:
        """The subscriber's public id, or TokenError (expired=True when only the age is wrong).
        `max_age` overrides the purpose's own limit (MAX_AGE_SECONDS; None there: no limit)."""
        age = MAX_AGE_SECONDS[purpose] if max_age is None else max_age
        try:
            value = self._serializer(purpose).loads(token, max_age=age)
        except SignatureExpired:
            raise TokenError("this link has expired", expired=True) from None
        except BadSignature:
            raise TokenError("this link is not valid") from None
        if not isinstance(value, str):
            raise TokenError("this link is not valid")
        return value


def edition_token(signer: Signer, public_id: str, edition: date) -> str:
    """The "view in browser" token: one reader's one edition (read-only, so long-lived)."""
    return signer.sign(Purpose.EDITION, f"{public_id}/{edition.isoformat()}")


def read_edition_token(signer: Signer, token: str) -> tuple[str, date]:
    """(public id, edition date) from a "view in browser" token, or TokenError."""
    public_id, _, day = signer.verify(Purpose.EDITION, token).rpartition("/")
    # A link's detail is never shown: every bad link reads the same.
    with map_value_errors(error=lambda _detail: TokenError("this link is not valid")):
        return public_id, date.fromisoformat(day)


def digest_links(
    settings: Settings,
    signer: Signer,
    public_id: str,
    paper_ids: Sequence[str] = (),
    *,
    edition: date | None = None,
) -> DigestLinks:
    """The signed manage and unsubscribe links every digest carries, "view in browser" when the
    edition is given, and the "more like this" / "less like this" links of each of `paper_ids`
    (the papers of the reader's edition)."""
    base = settings.site.base_url
    browser = f"{base}/editions/{edition_token(signer, public_id, edition)}" if edition else None
    feedback = {}
    for paper_id in paper_ids:
        # One signature per paper: both links name the same reader and paper (whoever holds
        # one holds the other), so the rating rides outside the signed part.
        url = f"{base}/feedback/{sign_feedback(signer, public_id, paper_id)}"
        feedback[paper_id] = FeedbackLinks(more=f"{url}?rating=up", less=f"{url}?rating=down")
    return DigestLinks(
        manage=f"{base}/preferences/{signer.sign(Purpose.MANAGE, public_id)}",
        unsubscribe=f"{base}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, public_id)}",
        browser=browser,
        feedback=feedback,
    )


_FEEDBACK_SEP = "\n"  # never part of a public id, a paper id or a rating
RATINGS = ("up", "down")


def sign_feedback(signer: Signer, public_id: str, paper_id: str) -> str:
    """A FEEDBACK token: this reader may rate this paper (either way), signed and dated. The
    link adds `?rating=up` or `?rating=down`."""
    return signer.sign_once(Purpose.FEEDBACK, _FEEDBACK_SEP.join((public_id, paper_id)))


def verify_feedback(signer: Signer, token: str, rating: str | None) -> tuple[str, str, str]:
    """(public id, paper id, rating) of a FEEDBACK token and the link's `rating`, or TokenError.

    Links mailed before the rating moved out of the token sign all three (reader, paper,
    rating) and carry no `rating`: they keep working, and their signed rating is the one used.
    """
    parts = signer.verify(Purpose.FEEDBACK, token).split(_FEEDBACK_SEP)
    if len(parts) == 3:
        rating = parts.pop()
    if len(parts) != 2 or rating not in RATINGS:
        raise TokenError("this link is not valid")
    return parts[0], parts[1], rating
