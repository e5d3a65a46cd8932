"""VERP: the envelope sender of each digest is `bounces+<opaque>@<domain>`.

A bounce comes back to the envelope sender, so the address it comes back to says which
delivery bounced, whatever the remote server wrote in its report. The opaque part is the
delivery id (5 bytes) and an HMAC of it (10 bytes) under a key derived from `[site] secret_key`
for this purpose alone, in lower-case base32: 24 characters that survive servers which change
the case of local parts, and a local part well under the 64 characters SMTP allows. Without the
key nobody can name a delivery, so a forged or unsigned address is simply not ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from digest.errors import ConfigError

LOCAL_PART = "bounces"
_PURPOSE = b"papers-digest/verp"
_ID_BYTES = 5
_MAC_BYTES = 10
_TOKEN_LENGTH = (_ID_BYTES + _MAC_BYTES) * 8 // 5
MAX_DELIVERY_ID = 2 ** (8 * _ID_BYTES) - 1


class VerpCodec:
    """Encodes a delivery id into a bounce address and reads it back, verifying the signature.

    Keys are listed newest first, as `[site] secret_key` is: addresses are signed with the
    first and verified with any, so a bounce of a digest sent before a key rotation still
    counts."""

    def __init__(self, secret_keys: Sequence[str], domain: str) -> None:
        if not secret_keys or not all(secret_keys):
            raise ConfigError(
                "[site] secret_key is not set (or $DIGEST_SITE__SECRET_KEY); "
                "[bounces] domain needs it to sign bounce addresses"
            )
        self.domain = domain.strip().lower()
        self._keys = [
            hmac.new(key.encode("utf-8"), _PURPOSE, hashlib.sha256).digest() for key in secret_keys
        ]

    def address(self, delivery_id: int) -> str:
        if not 0 < delivery_id <= MAX_DELIVERY_ID:
            raise ValueError(f"delivery id {delivery_id} does not fit a bounce address")
        body = delivery_id.to_bytes(_ID_BYTES, "big")
        token = base64.b32encode(body + _mac(self._keys[0], body)).decode("ascii").lower()
        return f"{LOCAL_PART}+{token}@{self.domain}"

    def owns(self, address: str) -> bool:
        """Whether `address` is in our bounce namespace, signed or not (the server accepts
        mail for it either way; only `delivery` says whether it names anything)."""
        local, _, domain = address.strip().rpartition("@")
        prefix = local.partition("+")[0]
        return domain.lower() == self.domain and prefix.lower() == LOCAL_PART

    def delivery(self, address: str) -> int | None:
        """The delivery id a genuine bounce address names; None for anything else."""
        if not self.owns(address):
            return None
        token = address.strip().rpartition("@")[0].partition("+")[2]
        if len(token) != _TOKEN_LENGTH:
            return None
        try:
            raw = base64.b32decode(token.upper())
        except (binascii.Error, ValueError):
            return None
        body, mac = raw[:_ID_BYTES], raw[_ID_BYTES:]
        if not any(hmac.compare_digest(mac, _mac(key, body)) for key in self._keys):
            return None
        delivery_id = int.from_bytes(body, "big")
        return delivery_id or None


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]
