"""DKIM signing of the exact bytes handed to SMTP.

The signature covers the serialised message, so it must be computed on the bytes that are sent and
those bytes must then be sent untouched (`sendmail` with raw bytes; never `send_message`, which
re-serialises and can refold headers, breaking the signature).
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.errors import ConfigError, map_value_errors
from digest.settings import SenderSettings

# Headers a receiver shows or acts on; signing them stops a relay from rewriting them.
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"reply-to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"auto-submitted",
)


@dataclass(frozen=True, slots=True)
class DkimSigner:
    selector: str
    domain: str
    private_key: bytes

    @classmethod
    def from_settings(cls, sender: SenderSettings) -> DkimSigner | None:
        """A signer when all three `[sender] dkim_*` keys are set, None when none is."""
        key = sender.dkim_private_key.get_secret_value() if sender.dkim_private_key else None
        values = {
            "dkim_selector": sender.dkim_selector,
            "dkim_domain": sender.dkim_domain,
            "dkim_private_key": key,
        }
        given = [name for name, value in values.items() if value]
        if not given:
            return None
        if len(given) != len(values):
            missing = ", ".join(name for name in values if name not in given)
            raise ConfigError(f"[sender] DKIM signing needs {missing} as well (or none of them)")
        assert sender.dkim_selector and sender.dkim_domain and key
        signer = cls(sender.dkim_selector, sender.dkim_domain, key.encode("ascii"))
        signer.sign(b"From: check@" + signer.domain.encode() + b"\r\n\r\nkey check\r\n")
        return signer

    def sign(self, data: bytes) -> bytes:
        """`data` with a DKIM-Signature header prepended (relaxed/relaxed, rsa-sha256)."""
        # Imported here: dkimpy and the dnspython it pulls in cost ~0.1 s of start-up to every
        # `digest` process (python -X importtime), and only those with DKIM keys sign.
        import dkim

        with map_value_errors(
            where="[sender] dkim_private_key: cannot sign with it",
            also=(dkim.DKIMException,),
            error=ConfigError,
        ):
            header = dkim.sign(
                data,
                self.selector.encode("ascii"),
                self.domain.encode("ascii"),
                self.private_key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[h for h in SIGNED_HEADERS if _has_header(data, h)] or None,
                linesep=b"\r\n",
            )
        return bytes(header) + data


def _has_header(data: bytes, name: bytes) -> bool:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return head.startswith(name + b":") or (b"\n" + name + b":") in head
