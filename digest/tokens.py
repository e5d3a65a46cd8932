"""Signed, expiring tokens for every link that changes state.

One salt per purpose, so an unsubscribe token can never confirm an address and vice versa. The
payload is an opaque subscriber id (readable base64 JSON), never the address. Several secret keys
may be configured, newest first: links signed with an older key keep working until it is dropped.
"""

from __future__ import annotations

from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import want_bytes
from itsdangerous.signer import Signer as LinkSigner

from digest.errors import ConfigError, TokenError


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


# Confirmation links die after 3 days; manage and unsubscribe links in mails must keep working
# for as long as an old digest may sit in an inbox.
MAX_AGE_SECONDS: dict[Purpose, int] = {
    Purpose.CONFIRM: 3 * 24 * 3600,
    Purpose.MANAGE: 180 * 24 * 3600,
    Purpose.UNSUBSCRIBE: 365 * 24 * 3600,
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
        # short id. The signers are stateless (the timestamp is taken in each sign).
        self._signers: dict[Purpose, LinkSigner] = {
            purpose: serializer.make_signer() for purpose, serializer in self._serializers.items()
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
        return self._signers[purpose].sign(payload).decode("utf-8")

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
