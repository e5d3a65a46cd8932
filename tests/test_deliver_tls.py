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
from aiosmtpd.smtp import SMTP as SmtpSession

from digest.deliver.message import OutgoingMessage
from digest.deliver.smtp import SendResult, SmtpPool
from digest.deliver.transactional import send_now
from tests.conftest import require
from tests.delivery_support import Mail, mail
from tests.smtpd import PortZeroController, RecordingHandler, SmtpServer, left_open


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


def tls_options(context: ssl.SSLContext, *, implicit: bool) -> dict[str, Any]:
    if implicit:
        return {"ssl_context": context}
    return {"tls_context": context, "require_starttls": True}


class TlsServer(SmtpServer):
    def __init__(self, context: ssl.SSLContext, *, implicit: bool) -> None:
        self.handler = RecordingHandler()
        options = tls_options(context, implicit=implicit)
        self.controller = PortZeroController(self.handler, hostname="127.0.0.1", port=0, **options)


class LingeringSession(SmtpSession):  # type: ignore[misc]
    """Answers QUIT with 221, then neither reads nor hangs up until the test is over: a relay
    whose half of the TLS goodbye (its close_notify) is slow to come. A client that waits for
    it before closing its socket still has the socket open when its event loop ends."""

    def __init__(self, held: list[LingeringSession], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held = held

    async def smtp_QUIT(self, arg: str) -> None:
        await self.push("221 Bye")
        assert self.transport is not None
        self.transport.pause_reading()
        self._held.append(self)


class LingeringServer(SmtpServer):
    def __init__(self, context: ssl.SSLContext, *, implicit: bool) -> None:
        self.handler = RecordingHandler()
        self.held: list[LingeringSession] = []
        held = self.held

        class Sessions(PortZeroController):
            def factory(self) -> LingeringSession:
                return LingeringSession(held, self.handler, **self.SMTP_kwargs)

        options = tls_options(context, implicit=implicit)
        self.controller = Sessions(self.handler, hostname="127.0.0.1", port=0, **options)

    def __exit__(self, *exc: object) -> None:
        async def hang_up() -> None:
            for session in self.held:
                if session.transport is not None:
                    session.transport.abort()
            await asyncio.sleep(0)  # the transports' scheduled closes run before this returns

        asyncio.run_coroutine_threadsafe(hang_up(), self.controller.loop).result(timeout=10)
        super().__exit__(*exc)


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


@pytest.mark.parametrize(("security", "implicit"), [("tls", True), ("starttls", False)])
def test_a_pool_leaves_no_tls_socket_open_when_the_server_is_slow_to_say_goodbye(
    make_settings, trusted, security: str, implicit: bool
) -> None:  # type: ignore[no-untyped-def]
    with LingeringServer(trusted, implicit=implicit) as server:
        settings = make_settings(smtp={"port": server.port, "security": security, "timeout": 5})
        result, unclosed = left_open(lambda: send_one(settings))
        assert len(server.held) == 1  # the session ended with QUIT and the server lingered
    assert (result.outcome, result.error) == ("sent", None)
    assert unclosed == []


def test_a_one_off_mail_leaves_no_tls_socket_open_when_the_server_is_slow_to_say_goodbye(
    make_settings, trusted
) -> None:  # type: ignore[no-untyped-def]
    data = b"From: digest@example.org\r\nTo: ada@example.org\r\nSubject: Hi\r\n\r\nHi\r\n"
    message = OutgoingMessage("ada@example.org", "<c1@example.org>", data, None, None)
    with LingeringServer(trusted, implicit=True) as server:
        settings = make_settings(smtp={"port": server.port, "security": "tls", "timeout": 5})
        _, unclosed = left_open(lambda: asyncio.run(send_now(settings, message)))
        assert len(server.held) == 1
    assert [m.rcpt_tos for m in server.messages] == [["ada@example.org"]]
    assert unclosed == []
