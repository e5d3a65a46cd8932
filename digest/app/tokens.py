"""Signed, expiring tokens for every link that changes state.

One salt per purpose, so an unsubscribe token can never confirm an address and vice versa. The
payload is an opaque subscriber id (readable base64 JSON), never the address. Several secret keys
may be configured, newest first: links signed with an older key keep working until it is dropped.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode, int_to_bytes, want_bytes
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.signer import Signer as ItsSigner
from itsdangerous.timed import TimestampSigner

from digest.errors import ConfigError, TokenError
from digest.render import DigestLinks, FeedbackLinks
from digest.settings import Settings


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    FEEDBACK = "feedback"


# Confirmation links die after 3 days; manage and unsubscribe links in mails must keep working
# for as long as an old digest may sit in an inbox.
MAX_AGE_SECONDS: dict[Purpose, int] = {
    Purpose.CONFIRM: 3 * 24 * 3600,
    Purpose.MANAGE: 180 * 24 * 3600,
    Purpose.UNSUBSCRIBE: 365 * 24 * 3600,
    Purpose.FEEDBACK: 180 * 24 * 3600,
}


_PAYLOAD_CACHE_LIMIT = 1024  # ids kept; a mail's two links need only the last one


class Signer:
    def __init__(self, secret_keys: list[str]) -> None:
        if not secret_keys or not all(secret_keys):
            raise ConfigError(
                "[site] secret_key is not set (or $DIGEST_SITE__SECRET_KEY); "
                "expected one or more long random strings, newest first"
            )
        # itsdangerous signs with the last key and verifies with all of them.
        self._keys = list(reversed(secret_keys))
        # Built once: a send signs two links per message, and building a serializer costs as
        # much as signing with it.
        self._serializers = {
            purpose: URLSafeTimedSerializer(self._keys, salt=f"papers-digest/{purpose.value}")
            for purpose in Purpose
        }
        # What `serializer.dumps` does, in its two steps: the payload (JSON, zlib-compressed
        # when that is shorter, base64) depends on the id alone, not on the purpose or key, and
        # each mail signs the same id twice; zlib.compress costs more than the HMAC, even for a
        # short id. The time is read on every signature.
        self._signers: dict[Purpose, _LinkSigner] = {
            purpose: _LinkSigner(serializer.make_signer())
            for purpose, serializer in self._serializers.items()
        }
        self._payloads: dict[str, bytes] = {}

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return self._serializers[purpose]

    def sign(self, purpose: Purpose, public_id: str) -> str:
        """`URLSafeTimedSerializer(...).dumps(public_id)`, the same token."""
        payload = self._payloads.get(public_id)
        if payload is None:
            if len(self._payloads) >= _PAYLOAD_CACHE_LIMIT:
                self._payloads.clear()
            payload = want_bytes(self._serializer(purpose).dump_payload(public_id))
            self._payloads[public_id] = payload
        return self._signers[purpose].sign(payload).decode("ascii")

    def sign_once(self, purpose: Purpose, value: str) -> str:
        """`sign` for a value signed about once (one reader's paper), kept out of the cache."""
        payload = want_bytes(self._serializer(purpose).dump_payload(value))
        return self._signers[purpose].sign(payload).decode("ascii")

    def verify(self, purpose: Purpose, token: str, *, max_age: int | None = None) -> str:
        """The subscriber's public id, or TokenError (expired=True when only the age is wrong)."""
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


class _LinkSigner:
    """`TimestampSigner.sign` with its key derived once.

    itsdangerous derives the signing key (a hash of salt and secret) and builds a fresh HMAC on
    every signature; a send signs two links per mail. Here the keyed HMAC state is made once and
    copied per signature, which gives the same bytes for a third of the cost. If the signer is
    not the plain HMAC kind this reproduces (checked once, against the library's own output),
    every signature goes through the library instead."""

    def __init__(self, signer: ItsSigner) -> None:
        if not isinstance(signer, TimestampSigner):  # pragma: no cover - timed serializers only
            raise TypeError(f"expected a TimestampSigner, got {type(signer).__name__}")
        self._signer = signer
        self._sep = signer.sep
        self._keyed: hmac.HMAC | None = None
        self._stamp: tuple[int, bytes] = (-1, b"")
        if type(signer.algorithm) is HMACAlgorithm:
            self._keyed = hmac.new(signer.derive_key(), digestmod=signer.algorithm.digest_method)
            probe = b"papers-digest.probe"
            if self._signature(probe) != signer.get_signature(probe):  # pragma: no cover
                self._keyed = None

    def _signature(self, value: bytes) -> bytes:
        assert self._keyed is not None
        mac = self._keyed.copy()
        mac.update(value)
        return base64_encode(mac.digest())

    def _timestamp(self) -> bytes:
        """The encoded signing time; the same for every mail signed within one second."""
        now = self._signer.get_timestamp()
        stamp = self._stamp  # one read: another thread may replace it meanwhile
        if stamp[0] != now:
            stamp = self._stamp = (now, base64_encode(int_to_bytes(now)))
        return stamp[1]

    def sign(self, payload: bytes) -> bytes:
        if self._keyed is None:  # pragma: no cover - only for a non-HMAC signer
            return self._signer.sign(payload)
        value = payload + self._sep + self._timestamp()
        return value + self._sep + self._signature(value)


def digest_links(
    settings: Settings, signer: Signer, public_id: str, paper_ids: Sequence[str] = ()
) -> DigestLinks:
    """The signed manage and unsubscribe links every digest carries, and the "more like this"
    / "less like this" links of each of `paper_ids` (the papers of the reader's edition)."""
    base = settings.site.base_url
    feedback = {
        paper_id: FeedbackLinks(
            more=f"{base}/feedback/{sign_feedback(signer, public_id, paper_id, 'up')}",
            less=f"{base}/feedback/{sign_feedback(signer, public_id, paper_id, 'down')}",
        )
        for paper_id in paper_ids
    }
    return DigestLinks(
        manage=f"{base}/preferences/{signer.sign(Purpose.MANAGE, public_id)}",
        unsubscribe=f"{base}/unsubscribe/{signer.sign(Purpose.UNSUBSCRIBE, public_id)}",
        feedback=feedback,
    )


_FEEDBACK_SEP = "\n"  # never part of a public id, a paper id or a rating


def sign_feedback(signer: Signer, public_id: str, paper_id: str, rating: str) -> str:
    """A FEEDBACK token: this reader, this paper, this rating, signed and dated."""
    return signer.sign_once(Purpose.FEEDBACK, _FEEDBACK_SEP.join((public_id, paper_id, rating)))


def verify_feedback(signer: Signer, token: str) -> tuple[str, str, str]:
    """(public id, paper id, rating) of a FEEDBACK token, or TokenError."""
    parts = signer.verify(Purpose.FEEDBACK, token).split(_FEEDBACK_SEP)
    if len(parts) != 3 or parts[2] not in ("up", "down"):
        raise TokenError("this link is not valid")
    return parts[0], parts[1], parts[2]
