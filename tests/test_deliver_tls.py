"""Transport security is explicit: "tls" (implicit TLS) and "starttls" encrypt or send nothing;
"none" never upgrades. Real aiosmtpd servers with a throw-away certificate the client trusts
through SSL_CERT_FILE (the default certificate store honours it)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from digest.deliver.smtp import SendResult, SmtpPool
from tests.conftest import require
from tests.delivery_support import Mail, mail
from tests.smtpd import PortZeroController, RecordingHandler, SmtpServer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require(shutil.which("openssl") is not None, "openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class TlsServer(SmtpServer):
    def __init__(self, context: ssl.SSLContext, *, implicit: bool) -> None:
        self.handler = RecordingHandler()
        options: dict[str, Any] = (
            {"ssl_context": context}
            if implicit
            else {"tls_context": context, "require_starttls": True}
        )
        self.controller = PortZeroController(self.handler, hostname="127.0.0.1", port=0, **options)


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def send_one(settings: Any) -> SendResult[Mail]:
    async def main() -> list[SendResult[Mail]]:
        results: list[SendResult[Mail]] = []
        async with SmtpPool(settings, results.append) as pool:
            await pool.push(mail("ada@example.org"))
        return results

    [result] = asyncio.run(main())
    return result


@pytest.mark.parametrize(("security", "implicit"), [("tls", True), ("starttls", False)])
def test_encrypted_modes_deliver_over_tls(
    make_settings, trusted, security: str, implicit: bool
) -> None:  # type: ignore[no-untyped-def]
    with TlsServer(trusted, implicit=implicit) as server:
        settings = make_settings(smtp={"port": server.port, "security": security, "timeout": 5})
        result = send_one(settings)
    assert (result.outcome, result.error) == ("sent", None)
    assert [m.rcpt_tos for m in server.messages] == [["ada@example.org"]]


def test_plain_mode_never_upgrades_and_a_server_demanding_tls_gets_nothing(
    make_settings, trusted
) -> None:  # type: ignore[no-untyped-def]
    with TlsServer(trusted, implicit=False) as server:
        settings = make_settings(smtp={"port": server.port, "security": "none", "timeout": 5})
        result = send_one(settings)
    assert result.outcome == "deferred" and "530" in (result.error or "")
    assert server.messages == []


def test_an_untrusted_certificate_is_refused(make_settings, certificate, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with TlsServer(context, implicit=True) as server:
        settings = make_settings(
            smtp={"port": server.port, "security": "tls", "timeout": 5, "max_attempts": 1}
        )
        result = send_one(settings)
    assert result.outcome == "deferred"
    assert server.messages == []
