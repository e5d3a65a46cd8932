"""DKIM: the exact bytes sent carry a signature that verifies against the published key."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from pathlib import Path

import dkim
import pytest

from digest.app.preview import write_previews
from digest.deliver.dkim import DkimSigner
from digest.deliver.message import OutgoingMessage
from digest.deliver.transactional import send_now
from digest.errors import ConfigError
from digest.store import Store
from tests.conftest import require
from tests.delivery_support import NOW, add_readers, ingest, paper, send, smtp_settings
from tests.smtpd import SmtpServer


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """A fresh RSA key (PEM) and the DNS TXT record that publishes its public half."""
    require(shutil.which("openssl") is not None, "openssl is needed to make a test DKIM key")
    folder: Path = tmp_path_factory.mktemp("dkim")
    private = folder / "private.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(private), "2048"],
        check=True,
        capture_output=True,
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    return private.read_text(encoding="ascii"), record


def dns_for(record: bytes):  # type: ignore[no-untyped-def]
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"digest._domainkey.example.org." else None

    return lookup


def dkim_settings(key: str) -> dict[str, str]:
    return {"dkim_selector": "digest", "dkim_domain": "example.org", "dkim_private_key": key}


def test_digests_are_signed_and_verify_byte_for_byte(
    store: Store,
    make_settings,
    smtp_server: SmtpServer,
    key_pair,  # type: ignore[no-untyped-def]
) -> None:
    key, record = key_pair
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 2)
    settings = smtp_settings(make_settings, smtp_server.port, sender=dkim_settings(key))
    assert send(store, settings)[0].sent == 2
    for received in smtp_server.messages:
        assert received.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert dkim.verify(received.data, dnsfunc=dns_for(record))
        signed = received.data.split(b"\r\n\r\n", 1)[0].split(b" h=", 1)[1].split(b";", 1)[0]
        for header in (b"from", b"subject", b"list-unsubscribe", b"list-unsubscribe-post"):
            assert header in signed.lower()
        tampered = received.data.replace(b"\r\nSubject: ", b"\r\nSubject: FREE ", 1)
        assert not dkim.verify(tampered, dnsfunc=dns_for(record))


def test_a_preview_eml_is_the_message_as_it_would_be_signed(
    store: Store,
    make_settings,
    tmp_path: Path,
    key_pair,  # type: ignore[no-untyped-def]
) -> None:
    key, record = key_pair
    ingest(store, [paper(n) for n in range(3)])
    add_readers(store, 1)
    settings = make_settings(sender=dkim_settings(key))
    out = tmp_path / "previews"
    write_previews(store, settings, out, now=NOW)
    [eml] = out.glob("*.eml")
    data = eml.read_bytes()
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dns_for(record))
    assert "signs it (DKIM)" in (out / "index.html").read_text(encoding="utf-8")


def test_one_off_mails_are_signed_too(make_settings, smtp_server: SmtpServer, key_pair) -> None:  # type: ignore[no-untyped-def]
    key, record = key_pair
    settings = smtp_settings(make_settings, smtp_server.port, sender=dkim_settings(key))
    data = b"From: digest@example.org\r\nTo: ada@example.org\r\nSubject: Confirm\r\n\r\nHi\r\n"
    asyncio.run(
        send_now(settings, OutgoingMessage("ada@example.org", "<c@example.org>", data, None, None))
    )
    [received] = smtp_server.messages
    assert dkim.verify(received.data, dnsfunc=dns_for(record))


def test_signing_is_off_without_keys_and_half_a_configuration_is_an_error(make_settings) -> None:  # type: ignore[no-untyped-def]
    assert DkimSigner.from_settings(make_settings().sender) is None
    half = make_settings(sender={"dkim_selector": "digest", "dkim_domain": "example.org"})
    with pytest.raises(ConfigError, match="dkim_private_key"):
        DkimSigner.from_settings(half.sender)
    broken = make_settings(sender=dkim_settings("-----BEGIN RSA PRIVATE KEY-----\nnope\n"))
    with pytest.raises(ConfigError, match=r"\[sender\] dkim_private_key"):
        DkimSigner.from_settings(broken.sender)
